// Sizing of the large buffers a forecast cycle reuses from one batch to the next (the network's
// input features, its activation arena).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace nordiq {

// v = n copies of `value`, reallocating with headroom when it must grow. Why: std::vector::assign
// reallocates to exactly n, so a batch one server larger than the last (a server joins a chunk,
// or a new daemon's second cycle forecasts a server its first could not) reallocated and
// zero-filled each whole buffer: ~70 MB and ~190 ms of page faults for the features alone at 500
// servers. The headroom is only reserved: pages that no element uses are never touched.
template <class T>
void assign_with_headroom(std::vector<T>& v, size_t n, const T& value) {
  if (n > v.capacity()) {
    v.clear();
    v.reserve(std::max(n + n / 8, v.capacity() + v.capacity() / 2));
  }
  v.assign(n, value);
}

}  // namespace nordiq
