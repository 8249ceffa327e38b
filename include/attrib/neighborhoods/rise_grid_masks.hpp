#pragma once
// rise_grid_masks: the soft masks of RISE (Petsiuk et al. 2018) over an image of
// height x width players (pixels, row-major). A mask is a cells_y x cells_x grid of Bernoulli(p)
// cells, upsampled bilinearly to (cells + 1) times the cell size and cropped at a random offset
// of less than one cell, so object edges do not always fall on cell edges. Entries lie in
// [0, 1] with mean p; a game built by `masking` reads a fractional entry as the interpolation
// (1 - z) baseline + z x, which is how RISE blends an image with its masked copy. For hard
// masks over grid cells, use bernoulli_coalitions on a game whose players are feature_groups
// (one group per cell).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "attrib/concepts/neighborhood.hpp"
#include "attrib/core/error.hpp"

namespace attrib {

struct rise_grid_masks {
  static constexpr bool binary = false;
  static constexpr bool constrained_endpoints = false;
  static constexpr const char* name = "rise_grid_masks";

  index height = 0;               // image rows; players = height * width
  index width = 0;                // image columns
  index cells_y = 7;              // grid rows (RISE uses 7 x 7 on ImageNet)
  index cells_x = 7;              // grid columns
  double keep_probability = 0.5;  // p: the chance that a grid cell is kept

  void validate(index players) const {
    detail::require(height >= 1 && width >= 1, "rise_grid_masks: height and width must be positive, got " +
                                                    std::to_string(height) + " x " + std::to_string(width));
    detail::require(players == height * width, "rise_grid_masks: the game has " + std::to_string(players) +
                                                    " players; expected height * width = " +
                                                    std::to_string(height * width));
    detail::require(cells_y >= 1 && cells_x >= 1 && cells_y <= height && cells_x <= width,
                    "rise_grid_masks: the grid must have between 1 x 1 and height x width cells, got " +
                        std::to_string(cells_y) + " x " + std::to_string(cells_x));
    detail::require(std::isfinite(keep_probability) && keep_probability > 0.0 && keep_probability < 1.0,
                    "rise_grid_masks: keep_probability must be in (0, 1), got " + std::to_string(keep_probability));
  }

  // Mask r comes from rng::stream(seed, r), seed being the first draw of `random`.
  neighborhood_sample sample(index players, std::size_t budget, rng& random) const {
    validate(players);
    const std::uint64_t seed = random();
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(keep_probability, 53));
    const index cell_h = (height + cells_y - 1) / cells_y, cell_w = (width + cells_x - 1) / cells_x;
    // The upsampled grid covers (cells + 1) cells; pixel centres map back to grid coordinates
    // as in image resizing, u = (y + 1/2) (cells + 1) / up - 1/2, clamped at the border.
    const index up_h = (cells_y + 1) * cell_h, up_w = (cells_x + 1) * cell_w;
    const auto axis = [](index pixel, index cells, index up) {
      const double u = std::clamp((static_cast<double>(pixel) + 0.5) * static_cast<double>(cells) /
                                          static_cast<double>(up) - 0.5,
                                      0.0, static_cast<double>(cells - 1));
      const auto lo = static_cast<index>(std::floor(u));
      const index hi = std::min(lo + 1, cells - 1);
      return std::tuple<index, index, double>{lo, hi, u - static_cast<double>(lo)};
    };
    neighborhood_sample out;
    const auto m = static_cast<index>(budget);
    out.points.resize(m, players);
    std::vector<double> grid(static_cast<std::size_t>((cells_y + 1) * (cells_x + 1)));
    for (index r = 0; r < m; ++r) {
      rng row = rng::stream(seed, static_cast<std::uint64_t>(r));
      for (auto& cell : grid) cell = (row() >> 11) < threshold ? 1.0 : 0.0;
      const auto shift_y = static_cast<index>(row.below(static_cast<std::uint64_t>(cell_h)));
      const auto shift_x = static_cast<index>(row.below(static_cast<std::uint64_t>(cell_w)));
      const auto at = [&](index gy, index gx) {
        return grid[static_cast<std::size_t>(gy * (cells_x + 1) + gx)];
      };
      for (index y = 0; y < height; ++y) {
        const auto [y0, y1, ty] = axis(y + shift_y, cells_y + 1, up_h);
        for (index x = 0; x < width; ++x) {
          const auto [x0, x1, tx] = axis(x + shift_x, cells_x + 1, up_w);
          out.points(r, y * width + x) = (1.0 - ty) * ((1.0 - tx) * at(y0, x0) + tx * at(y0, x1)) +
                                         ty * ((1.0 - tx) * at(y1, x0) + tx * at(y1, x1));
        }
      }
    }
    out.weights = vector::Constant(m, 1.0 / static_cast<double>(std::max<index>(m, 1)));
    out.unit.resize(static_cast<std::size_t>(m));
    for (index r = 0; r < m; ++r) out.unit[static_cast<std::size_t>(r)] = r;
    out.draws.assign(static_cast<std::size_t>(m), 1.0);
    return out;
  }
};

static_assert(neighborhood<rise_grid_masks>);

}  // namespace attrib
