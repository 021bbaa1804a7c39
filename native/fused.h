// The fused training kernels (fused.cc): layer norm, softmax-cross-entropy, LSTM and GRU cells and
// the Adam update, each the native twin of a reference kernel in src/backend/ref/fused-*.ts.
#pragma once

#include "common.h"

namespace nabla {

// Runs fused kernel `id` (the ids of src/backend/native/index.ts's FUSED table) on the scalars `s`
// and views `v` (an absent optional view has shape [0]). Returns 1 when it ran, 0 when it leaves
// the dtypes or layout to the reference kernel, -1 for arguments that do not fit (with *err set).
int k_fused(int id, const double* s, int ns, const View* v, int nv, const char** err);

}  // namespace nabla
