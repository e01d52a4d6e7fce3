#include "training/scoring.h"

#include <algorithm>

namespace sdft {

std::vector<double> ScoreCandidates(Llama& model, const std::vector<int64_t>& prompt,
                                    const std::vector<std::vector<int64_t>>& candidates) {
  torch::NoGradGuard no_grad;
  model->eval();
  const torch::Device device = model->embed_tokens->weight.device();
  std::vector<double> out;
  for (const std::vector<int64_t>& cand : candidates) {
    if (cand.empty()) {
      out.push_back(0.0);
      continue;
    }
    std::vector<int64_t> seq(prompt);
    seq.insert(seq.end(), cand.begin(), cand.end());
    const size_t keep = std::min<size_t>(seq.size(), model->config.max_seq_len + 1);
    seq.erase(seq.begin(), seq.end() - keep);
    // Positions t predict token t+1; the candidate's tokens are the last |cand|.
    torch::Tensor ids = torch::tensor(seq, torch::kInt64).to(device);
    torch::Tensor logp = torch::log_softmax(model->forward(ids.narrow(0, 0, keep - 1).unsqueeze(0)).squeeze(0), -1);
    const int64_t n = static_cast<int64_t>(std::min(cand.size(), keep - 1));
    torch::Tensor targets = ids.narrow(0, keep - n, n);
    torch::Tensor picked = logp.narrow(0, keep - 1 - n, n).gather(1, targets.unsqueeze(1));
    out.push_back(picked.sum().item<double>());
  }
  return out;
}

}  // namespace sdft
