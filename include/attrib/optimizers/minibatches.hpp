#pragma once
// Seeded minibatches for the trainers (mlp::train, dropout training, LoRA adapters). Epoch e
// visits the rows in the order of a shuffle drawn from rng::stream(seed, e), cut into batches of
// batch_size (the last one shorter), so a run is the same on any machine and thread count. The
// batch buffers are reused from batch to batch.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/core/types.hpp"

namespace attrib {

// Calls on_batch(batch_x, batch_y) for every minibatch and on_epoch_end(epoch) after each epoch.
template <class OnBatch, class OnEpochEnd>
void for_each_minibatch(const matrix& x, const vector& y, index batch_size, index epochs, std::uint64_t seed,
                        OnBatch&& on_batch, OnEpochEnd&& on_epoch_end) {
  const index n = x.rows();
  std::vector<index> order(static_cast<std::size_t>(n));
  matrix batch;
  vector batch_y;
  for (index epoch = 0; epoch < epochs; ++epoch) {
    std::iota(order.begin(), order.end(), index{0});
    rng shuffler = rng::stream(seed, static_cast<std::uint64_t>(epoch));
    shuffler.shuffle(order.begin(), order.end());
    for (index start = 0; start < n; start += batch_size) {
      const index size = std::min(batch_size, n - start);
      batch.resize(size, x.cols());
      batch_y.resize(size);
      for (index i = 0; i < size; ++i) {
        const index row = order[static_cast<std::size_t>(start + i)];
        batch.row(i) = x.row(row);
        batch_y[i] = y[row];
      }
      on_batch(static_cast<const matrix&>(batch), static_cast<const vector&>(batch_y));
    }
    on_epoch_end(epoch);
  }
}

}  // namespace attrib
