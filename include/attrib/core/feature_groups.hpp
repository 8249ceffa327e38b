#pragma once
// Players made of several input features: a player is present when all its features are.
#include <algorithm>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

class feature_groups {
 public:
  // One player per feature.
  static feature_groups singletons(index features) {
    if (features <= 0)
      detail::fail("feature_groups: feature count must be positive, got " + std::to_string(features));
    feature_groups g;
    g.features_ = features;
    g.owner_.resize(static_cast<std::size_t>(features));
    std::iota(g.owner_.begin(), g.owner_.end(), index{0});
    g.members_ = g.owner_;
    g.starts_.resize(static_cast<std::size_t>(features) + 1);
    std::iota(g.starts_.begin(), g.starts_.end(), index{0});
    g.one_per_feature_ = true;
    return g;
  }

  // groups[p] lists the features of player p; every feature in [0, features) must belong to
  // exactly one group.
  feature_groups(const std::vector<std::vector<index>>& groups, index features) : features_(features) {
    detail::require(!groups.empty(), "feature_groups: at least one group is needed");
    owner_.assign(static_cast<std::size_t>(features), -1);
    starts_.push_back(0);
    for (std::size_t p = 0; p < groups.size(); ++p) {
      if (groups[p].empty()) detail::fail("feature_groups: group " + std::to_string(p) + " is empty");
      for (index f : groups[p]) {
        if (f < 0 || f >= features)
          detail::fail("feature_groups: group " + std::to_string(p) + " names feature " + std::to_string(f) +
                       ", expected 0 <= feature < " + std::to_string(features));
        auto& o = owner_[static_cast<std::size_t>(f)];
        if (o >= 0)
          detail::fail("feature_groups: feature " + std::to_string(f) + " belongs to groups " +
                       std::to_string(o) + " and " + std::to_string(p));
        o = static_cast<index>(p);
        members_.push_back(f);
      }
      starts_.push_back(static_cast<index>(members_.size()));
    }
    for (index f = 0; f < features; ++f)
      if (owner_[static_cast<std::size_t>(f)] < 0)
        detail::fail("feature_groups: feature " + std::to_string(f) + " is in no group");
    one_per_feature_ = true;
    for (index f = 0; f < features; ++f)
      one_per_feature_ = one_per_feature_ && owner_[static_cast<std::size_t>(f)] == f;
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

  index player_count() const { return static_cast<index>(starts_.size()) - 1; }
  index feature_count() const { return features_; }
  std::span<const index> members(index player) const {
    const auto p = static_cast<std::size_t>(player);
    return std::span<const index>(members_).subspan(static_cast<std::size_t>(starts_[p]),
                                                    static_cast<std::size_t>(starts_[p + 1] - starts_[p]));
  }
  // The player that feature f belongs to, for every f.
  const std::vector<index>& player_of_features() const { return owner_; }
  // Player f is feature f alone, for every f: perturbations then skip the lookup and vectorise.
  bool one_per_feature() const { return one_per_feature_; }

 private:
  feature_groups() = default;
  // Players' features stored flat: player p owns members_[starts_[p], starts_[p + 1]) (one
  // allocation, not one per player, so that building a game for each instance stays cheap).
  std::vector<index> members_;
  std::vector<index> starts_;
  std::vector<index> owner_;  // owner_[f]: the group of feature f
  index features_ = 0;
  bool one_per_feature_ = false;
};

}  // namespace attrib
