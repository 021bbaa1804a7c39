// Fused attention kernels (attention.cc), with the contract of the TypeScript kernels
// attentionForward / attentionBackward (src/backend/backend.ts, src/backend/ref/attention.ts).
#pragma once

#include "common.h"

namespace nabla {

// The views of one call (validated by nabla.cc: every view has q's batch dims).
struct AttnArgs {
  const View* q;
  const View* k;
  const View* v;
  const View* allowed;  // bool (…, L, S), nullptr when absent
  const View* bias;     // float (…, L, S), nullptr when absent
  const View* out;      // (…, L, Ev), contiguous
  const View* lse;      // (…, L), contiguous
  const View* dout;     // backward only: (…, L, Ev)
  const View* dq;       // backward only: contiguous outputs
  const View* dk;
  const View* dv;
  double scale;
  double causal;  // key j visible from query i iff j <= i + causal; +inf without a causal mask
};

// Each returns false for dtypes or layouts it leaves to the reference kernels.
bool k_attention_forward(const AttnArgs& a);
bool k_attention_backward(const AttnArgs& a);

}  // namespace nabla
