#pragma once
// Players made of several input features: a player is present when all its features are.
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

class feature_groups {
 public:
  // One player per feature.
  static feature_groups singletons(index features) {
    detail::require(features > 0, "feature_groups: feature count must be positive, got " +
                                      std::to_string(features));
    feature_groups g;
    g.features_ = features;
    for (index f = 0; f < features; ++f) {
      g.groups_.push_back({f});
      g.owner_.push_back(f);
    }
    return g;
  }

  // groups[p] lists the features of player p; every feature in [0, features) must belong to
  // exactly one group.
  feature_groups(std::vector<std::vector<index>> groups, index features)
      : groups_(std::move(groups)), features_(features) {
    detail::require(!groups_.empty(), "feature_groups: at least one group is needed");
    owner_.assign(static_cast<std::size_t>(features), -1);
    for (std::size_t p = 0; p < groups_.size(); ++p) {
      detail::require(!groups_[p].empty(),
                      "feature_groups: group " + std::to_string(p) + " is empty");
      for (index f : groups_[p]) {
        detail::require(f >= 0 && f < features,
                        "feature_groups: group " + std::to_string(p) + " names feature " +
                            std::to_string(f) + ", expected 0 <= feature < " +
                            std::to_string(features));
        auto& o = owner_[static_cast<std::size_t>(f)];
        detail::require(o < 0, "feature_groups: feature " + std::to_string(f) +
                                   " belongs to groups " + std::to_string(o) + " and " +
                                   std::to_string(p));
        o = static_cast<index>(p);
      }
    }
    for (index f = 0; f < features; ++f)
      detail::require(owner_[static_cast<std::size_t>(f)] >= 0,
                      "feature_groups: feature " + std::to_string(f) + " is in no group");
  }

  // Groups from one integer label per feature (captum's feature_mask): labels 0..k-1.
  static feature_groups from_labels(const std::vector<index>& labels) {
    index groups = 0;
    for (index l : labels) {
      detail::require(l >= 0, "feature_groups: labels must be non-negative");
      groups = std::max(groups, l + 1);
    }
    std::vector<std::vector<index>> members(static_cast<std::size_t>(groups));
    for (std::size_t f = 0; f < labels.size(); ++f)
      members[static_cast<std::size_t>(labels[f])].push_back(static_cast<index>(f));
    return feature_groups(std::move(members), static_cast<index>(labels.size()));
  }

  index player_count() const { return static_cast<index>(groups_.size()); }
  index feature_count() const { return features_; }
  const std::vector<index>& members(index player) const {
    return groups_[static_cast<std::size_t>(player)];
  }
  // The player that feature f belongs to, for every f.
  const std::vector<index>& player_of_features() const { return owner_; }

 private:
  feature_groups() = default;
  std::vector<std::vector<index>> groups_;
  std::vector<index> owner_;  // owner_[f]: the group of feature f
  index features_ = 0;
};

}  // namespace attrib
