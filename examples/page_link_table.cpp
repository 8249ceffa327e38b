// PaGE-Link against link versions of GNNExplainer and PGExplainer on graphs with planted
// explanation paths: the synthetic user-item-attribute graph at two densities and a
// citation-style graph (author cites paper because of a citation chain or a shared term).
// For each of five seeds a graph is generated, an R-GCN (2 layers, 32 wide, DistMult) is trained
// on 80% of the planted links, the PGExplainer MLP is trained on (up to 64 of) the training links
// the model predicts, and the held-out links the model predicts present (score > 0) are
// explained; the seed also seeds every explainer. Each cell is the mean over seeds of the
// per-seed mean over links, with the standard deviation across seeds.
// Two more tables take PaGE-Link's top path apart: which share of the candidate paths is planted,
// whether k-core pruning keeps the planted paths, how many mask epochs run, how far the learned
// masks separate planted from other edges, whether the mask changes the top path the degrees
// alone pick, and how often the mask alone (without the degree term) ranks a planted path first.
// Prints markdown to stdout (scripts/graph_tables.sh appends it to docs/graph-results.md).
// Usage: page_link_table [FIGURE_DIR]: with a folder, also draws the first explained link of each
// graph family's first seed (svg_link_paths.hpp; the sparse user-item-attribute graph and the
// citation graph) under PaGE-Link, PaGE-Link without the path loss and the GNNExplainer-style mask,
// as page_link_<family>[_no_path_loss|_gnnexplainer].svg.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "attrib/core/random.hpp"
#include "attrib/core/run_settings.hpp"
#include "attrib/graph/hetero_generators.hpp"
#include "attrib/io/atomic_file.hpp"
#include "attrib/graph/search_space.hpp"
#include "attrib/models/gnn/rgcn.hpp"
#include "attrib/methods/graph/fidelity.hpp"
#include "attrib/methods/graph/link_edge_mask.hpp"
#include "attrib/methods/graph/link_explanation.hpp"
#include "attrib/methods/graph/link_metrics.hpp"
#include "attrib/methods/graph/link_pg_explainer.hpp"
#include "attrib/methods/graph/page_link.hpp"
#include "svg_link_paths.hpp"
#include "table_format.hpp"

namespace {

using attrib::index;
using link_list = std::vector<std::pair<index, index>>;
using attrib_examples::fixed;

// A fixed mask on the computation graph, paths extracted the same way: uniform random values
// (chance), or the constant 1/2, which leaves PaGE-Link's path cost to the node degrees alone.
struct fixed_mask {
  bool random = true;
  std::size_t paths = 5;
  index max_path_length = 3;
  attrib::link_explanation explain(const attrib::rgcn& model, const attrib::hetero_graph& g, index source,
                                   index target, std::uint64_t seed) const {
    const auto c = attrib::computation_graph_of(g, source, target, 2);
    attrib::link_explanation out;
    out.source = source;
    out.target = target;
    out.nodes = c.nodes;
    out.edges = c.edges;
    out.score = model.score(c.graph, c.source, c.target);
    attrib::rng draw(seed);
    out.mask = attrib::vector::Constant(c.graph.edge_count(), 0.5);
    if (random)
      for (index e = 0; e < out.mask.size(); ++e) out.mask(e) = 0.01 + 0.98 * draw.uniform();
    out.paths = attrib::mask_paths(c.graph, out.mask, c.source, c.target, paths, max_path_length);
    attrib::detail::rename_paths(out.paths, c.nodes, c.edges);
    return out;
  }
};

struct dataset {
  const attrib::hetero_graph* graph = nullptr;
  const std::vector<attrib::link_truth>* links = nullptr;
  attrib::rgcn model;
  std::vector<std::size_t> explained;  // indices into *links
  link_list train_predicted;           // training links the model predicts present
  double link_auc = 0.0;
  std::size_t test = 0;
};

// Trains the R-GCN on 80% of the links; the held-out ones it predicts present are explained.
dataset prepare(const attrib::hetero_graph& g, const std::vector<attrib::link_truth>& all, int target_type,
                std::uint64_t seed) {
  dataset d;
  d.graph = &g;
  d.links = &all;
  std::vector<std::size_t> order(all.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  attrib::rng random = attrib::rng::stream(seed, 1);
  random.shuffle(order.begin(), order.end());
  const std::size_t cut = order.size() * 4 / 5;
  link_list train;
  for (std::size_t k = 0; k < cut; ++k) train.emplace_back(all[order[k]].source, all[order[k]].target);
  attrib::rgcn_config config;
  config.inputs = g.feature_count();
  config.hidden = 32;
  config.relations = g.relation_count();
  d.model = attrib::rgcn(config, seed);
  d.model.train(g, train, {.epochs = 200, .learning_rate = 0.01, .negatives = 1, .l2 = 0.0, .seed = seed});
  const attrib::matrix h = d.model.embed(g);
  for (const auto& [s, t] : train)
    if (d.model.score(h, s, t) > 0.0 && d.train_predicted.size() < 64) d.train_predicted.emplace_back(s, t);
  // Held-out links against 3 random nodes of the target's type each.
  const auto candidates = g.nodes_of_type(target_type);
  std::vector<double> scores;
  std::vector<char> truth;
  for (std::size_t k = cut; k < order.size(); ++k) {
    const auto& link = all[order[k]];
    const double s = d.model.score(h, link.source, link.target);
    scores.push_back(s);
    truth.push_back(1);
    if (s > 0.0) d.explained.push_back(order[k]);
    for (int n = 0; n < 3; ++n) {
      scores.push_back(d.model.score(h, link.source, candidates[static_cast<std::size_t>(random.below(candidates.size()))]));
      truth.push_back(0);
    }
  }
  d.test = order.size() - cut;
  d.link_auc = attrib::roc_auc(Eigen::Map<attrib::vector>(scores.data(), static_cast<index>(scores.size())), truth);
  return d;
}

// Per-seed means of one method's metrics, collected across seeds.
struct across_seeds {
  std::map<std::string, std::vector<double>> values;
  void add(const std::string& key, double v) { values[key].push_back(v); }
  std::string cell(const std::string& key, int digits) const {
    const auto it = values.find(key);
    if (it == values.end() || it->second.empty()) return "-";
    const auto& v = it->second;
    const double n = static_cast<double>(v.size());
    double mean = 0.0;
    for (double x : v) mean += x / n;
    double var = 0.0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double sd = v.size() > 1 ? std::sqrt(var / (n - 1.0)) : 0.0;
    return fixed(mean, digits) + " ± " + fixed(sd, digits);
  }
};

bool is_planted(const std::vector<index>& nodes, const attrib::link_truth& truth) {
  return std::find(truth.paths.begin(), truth.paths.end(), nodes) != truth.paths.end();
}

// The top path under a uniform mask (degrees only), per explained link, to compare against.
std::vector<std::vector<index>> degree_only_top(const std::vector<attrib::link_explanation>& uniform) {
  std::vector<std::vector<index>> out;
  for (const auto& x : uniform) out.push_back(x.paths.empty() ? std::vector<index>{} : x.paths.front().nodes);
  return out;
}

// Explains d's links with `explainer`, adds the per-seed means to `acc`, and returns the
// explanations for the diagnostics.
template <class Explainer>
std::vector<attrib::link_explanation> evaluate(const Explainer& explainer, const dataset& d, std::uint64_t seed,
                                               const std::vector<std::vector<index>>& uniform_top, across_seeds& acc,
                                               double extra_seconds = 0.0) {
  link_list links;
  for (std::size_t i : d.explained) links.emplace_back((*d.links)[i].source, (*d.links)[i].target);
  attrib::run_settings settings;
  settings.threads = 2;
  settings.seed = seed;
  const auto start = attrib_examples::clock_type::now();
  auto results = attrib::explain_links(explainer, d.model, *d.graph, links, settings);
  const double seconds = attrib_examples::seconds_since(start) + extra_seconds;
  if (results.empty()) return results;
  double auc = 0, top = 0, in5 = 0, hit5 = 0, hit10 = 0, same = 0, contrast = 0, epochs = 0, mask_only = 0;
  index contrast_links = 0;
  for (std::size_t k = 0; k < results.size(); ++k) {
    const auto& x = results[k];
    const auto& truth = (*d.links)[d.explained[k]];
    const auto truth_edges = attrib::path_edge_ids(*d.graph, truth.paths);
    auc += attrib::link_mask_auc(x, truth.edges);
    top += attrib::top_path_hit(x, truth.paths);
    in5 += std::any_of(x.paths.begin(), x.paths.end(), [&](const auto& p) { return is_planted(p.nodes, truth); });
    hit5 += attrib::top_edges_path_hit(x, truth_edges, 5);
    hit10 += attrib::top_edges_path_hit(x, truth_edges, 10);
    if (!uniform_top.empty()) same += !x.paths.empty() && x.paths.front().nodes == uniform_top[k];
    {
      // The top path ranked by -log mask alone, without PaGE-Link's degree term.
      const auto c = attrib::computation_graph_of(*d.graph, x.source, x.target, 2);
      auto by_mask = attrib::mask_paths(c.graph, x.mask, c.source, c.target, 1, 3, false);
      attrib::detail::rename_paths(by_mask, c.nodes, c.edges);
      mask_only += !by_mask.empty() && is_planted(by_mask.front().nodes, truth);
    }
    // Mean mask on planted edges minus mean mask on the other edges the mask covers (pruned
    // edges, mask 0, left out): how far mask learning separates the two.
    double on = 0, off = 0;
    index n_on = 0, n_off = 0;
    for (std::size_t e = 0; e < x.edges.size(); ++e) {
      const double m = x.mask(static_cast<index>(e));
      if (m <= 0.0) continue;
      if (std::binary_search(truth.edges.begin(), truth.edges.end(), x.edges[e])) {
        on += m;
        ++n_on;
      } else {
        off += m;
        ++n_off;
      }
    }
    if (n_on > 0 && n_off > 0) {
      contrast += on / static_cast<double>(n_on) - off / static_cast<double>(n_off);
      ++contrast_links;
    }
    epochs += static_cast<double>(x.epochs);
  }
  const double n = static_cast<double>(results.size());
  acc.add("auc", auc / n);
  acc.add("top", top / n);
  acc.add("in5", in5 / n);
  acc.add("hit5", hit5 / n);
  acc.add("hit10", hit10 / n);
  acc.add("same", same / n);
  acc.add("mask_only", mask_only / n);
  if (contrast_links > 0) acc.add("contrast", contrast / static_cast<double>(contrast_links));
  acc.add("epochs", epochs / n);
  acc.add("ms", 1000.0 * seconds / n);
  return results;
}

// PaGE-Link's candidate paths for one link: every simple path of at most 3 edges between the
// endpoints in g (PaGE-Link's output bound; all of them lie in the 2-hop computation graph),
// how many are planted, and whether the k-core of the search space keeps a planted path.
struct census {
  index candidates = 0, planted = 0;
  bool kept = false;
};

census count_paths(const attrib::hetero_graph& g, const attrib::link_truth& truth, index k_core) {
  census out;
  const auto& s = g.structure();
  const index src = truth.source, tgt = truth.target;
  for (auto [x, xend] = boost::adjacent_vertices(static_cast<attrib::graph_node>(src), s); x != xend; ++x) {
    const auto ix = static_cast<index>(*x);
    if (ix == tgt) continue;
    if (g.has_edge(ix, tgt)) {
      ++out.candidates;
      out.planted += is_planted({src, ix, tgt}, truth);
    }
    for (auto [y, yend] = boost::adjacent_vertices(*x, s); y != yend; ++y) {
      const auto iy = static_cast<index>(*y);
      if (iy == src || iy == tgt || !g.has_edge(iy, tgt)) continue;
      ++out.candidates;
      out.planted += is_planted({src, ix, iy, tgt}, truth);
    }
  }
  const auto c = attrib::computation_graph_of(g, src, tgt, 2);
  const auto keep = attrib::link_search_space(c.graph.structure(), c.source, c.target, 2, k_core);
  const auto kept = [&](index v) {
    const auto at = std::find(c.nodes.begin(), c.nodes.end(), v) - c.nodes.begin();
    return at < static_cast<std::ptrdiff_t>(c.nodes.size()) && keep[static_cast<std::size_t>(at)];
  };
  for (const auto& p : truth.paths) out.kept = out.kept || std::all_of(p.begin(), p.end(), kept);
  return out;
}

struct graph_case {
  std::string name;
  int target_type = 0;
  std::string targets;  // what the target nodes are, for the notes
  index k_core = 2;     // PaGE-Link's pruning: 2 on its synthetic data, 3 on its citation data
  std::string figure;   // the drawings' file name part; empty: not drawn
  // Generates the graph of a seed; returns its graph and planted links.
  std::function<std::pair<attrib::hetero_graph, std::vector<attrib::link_truth>>(std::uint64_t)> make;
};

// One graph family's results: each method's metrics, the path census and the model's quality.
struct case_result {
  std::string name;
  std::vector<across_seeds> methods;
  across_seeds census, data;
};

// Held-out link AUC of the R-GCN on citation graphs whose links all have one cause.
across_seeds citation_cause_auc(attrib::citation_config c, double chain_share, const std::vector<std::uint64_t>& seeds) {
  c.chain_share = chain_share;
  across_seeds out;
  for (std::uint64_t seed : seeds) {
    const auto d = attrib::citation_graph(c, seed);
    out.add("link_auc", prepare(d.graph, d.links, attrib::planted_citation_graph::paper, seed).link_auc);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // With a folder argument, the drawings of one explained link per graph family go there.
  const std::string figures = argc > 1 ? argv[1] : "";
  const auto program_start = attrib_examples::clock_type::now();
  attrib::user_item_attribute_config sparse, dense;
  dense.buys_per_user = 6;
  dense.attributes = 30;
  const attrib::citation_config citations;
  const std::vector<std::uint64_t> seeds{1, 2, 3, 4, 5};
  const auto uia = [](const attrib::user_item_attribute_config& c) {
    return [c](std::uint64_t seed) {
      auto d = attrib::user_item_attribute_graph(c, seed);
      return std::pair{std::move(d.graph), std::move(d.links)};
    };
  };
  std::vector<graph_case> cases{
      {"user-item-attribute, 3 purchases/user, 20 attributes", attrib::planted_link_graph::item, "items", 2, "sparse",
       uia(sparse)},
      {"user-item-attribute, 6 purchases/user, 30 attributes", attrib::planted_link_graph::item, "items", 2, "",
       uia(dense)},
      {"citation, 60 authors, 120 papers, 3 venues", attrib::planted_citation_graph::paper, "papers", 3, "citation",
       [&](std::uint64_t seed) {
         auto d = attrib::citation_graph(citations, seed);
         return std::pair{std::move(d.graph), std::move(d.links)};
       }}};
  const attrib::link_edge_mask_explainer gnn;
  const attrib::link_pg_explainer pg;
  enum { page_row, gnn_row, pg_row, random_row, uniform_row, long_row, no_path_loss_row };
  const std::vector<std::string> methods{
      "PaGE-Link (k-core, path loss, 20 epochs, lr 0.01, alpha = beta = 1)",
      "GNNExplainer-style edge mask (100 epochs, lr 0.001, size 1e-5, entropy 0.1)",
      "PGExplainer-style link MLP (20 epochs over <= 64 training links; time includes training)",
      "random mask (chance)",
      "uniform mask 1/2 (path cost from degrees alone)",
      "PaGE-Link, 200 epochs, no early stop (ablation)",
      "PaGE-Link, 200 epochs, no early stop, no path loss: alpha = beta = 0 (ablation)"};

  std::string table, diagnostics, notes;
  std::vector<case_result> results;
  for (const auto& gc : cases) {
    const attrib::page_link page{.k_core = gc.k_core};
    const attrib::page_link page_long{.k_core = gc.k_core, .epochs = 200, .early_stop = 0.0};
    const attrib::page_link page_no_path_loss{
        .k_core = gc.k_core, .epochs = 200, .alpha = 0.0, .beta = 0.0, .early_stop = 0.0};
    case_result r{gc.name, std::vector<across_seeds>(methods.size()), {}, {}};
    auto& acc = r.methods;
    std::size_t explained_total = 0, test_total = 0;
    for (std::uint64_t seed : seeds) {
      const auto [g, links] = gc.make(seed);
      const dataset d = prepare(g, links, gc.target_type, seed);
      r.data.add("link_auc", d.link_auc);
      r.data.add("train_links", static_cast<double>(d.train_predicted.size()));
      explained_total += d.explained.size();
      test_total += d.test;
      if (d.explained.empty()) continue;
      const auto uniform = evaluate(fixed_mask{.random = false}, d, seed, {}, acc[uniform_row]);
      const auto uniform_top = degree_only_top(uniform);
      const auto paged = evaluate(page, d, seed, uniform_top, acc[page_row]);
      const auto masked = evaluate(gnn, d, seed, uniform_top, acc[gnn_row]);
      const auto fit_start = attrib_examples::clock_type::now();
      const auto trained = pg.fit(d.model, g, d.train_predicted, seed);
      const double fit_seconds = attrib_examples::seconds_since(fit_start);
      evaluate(trained, d, seed, uniform_top, acc[pg_row], fit_seconds);
      evaluate(fixed_mask{}, d, seed, uniform_top, acc[random_row]);
      evaluate(page_long, d, seed, uniform_top, acc[long_row]);
      const auto unlooped = evaluate(page_no_path_loss, d, seed, uniform_top, acc[no_path_loss_row]);
      if (!figures.empty() && !gc.figure.empty() && seed == seeds.front()) {
        // The first explained link of the first seed under PaGE-Link, the ablation without the
        // path loss and the GNNExplainer-style mask, its planted edges dashed beneath.
        const auto& truth = links[d.explained.front()];
        const std::string stem = figures + "/page_link_" + gc.figure;
        const auto draw = [&](const attrib::link_explanation& x, const std::string& suffix, const std::string& who) {
          std::ostringstream svg;
          examples::write_link_paths_svg(svg,
                                         who + ": link " + std::to_string(truth.source) + " -> " +
                                             std::to_string(truth.target) + " (" + gc.name + ", seed " +
                                             std::to_string(seed) + ")",
                                         g, x, truth.edges);
          attrib::write_file_atomically(stem + suffix + ".svg", svg.str());
        };
        draw(paged.front(), "", "PaGE-Link");
        draw(unlooped.front(), "_no_path_loss", "PaGE-Link without the path loss");
        draw(masked.front(), "_gnnexplainer", "GNNExplainer-style mask");
      }
      double candidates = 0, planted_share = 0, all_planted = 0, kept = 0;
      for (std::size_t i : d.explained) {
        const census c = count_paths(g, links[i], gc.k_core);
        candidates += static_cast<double>(c.candidates);
        planted_share += c.candidates ? static_cast<double>(c.planted) / static_cast<double>(c.candidates) : 0.0;
        all_planted += c.candidates > 0 && c.planted == c.candidates;
        kept += c.kept;
      }
      const double n = static_cast<double>(d.explained.size());
      r.census.add("candidates", candidates / n);
      r.census.add("share", planted_share / n);
      r.census.add("all", all_planted / n);
      r.census.add("kept", kept / n);
    }
    for (std::size_t m = 0; m < methods.size(); ++m) {
      const auto& a = acc[m];
      table += "| " + gc.name + " | " + methods[m] + " | " + a.cell("auc", 3) + " | " + a.cell("top", 3) + " | " +
               a.cell("in5", 3) + " | " + a.cell("hit5", 3) + " | " + a.cell("hit10", 3) + " | " +
               a.cell("ms", 1) + " |\n";
    }
    const auto& c = r.census;
    diagnostics += "| " + gc.name + " | " + c.cell("candidates", 1) + " | " + c.cell("share", 3) + " | " +
                   c.cell("all", 3) + " | " + c.cell("kept", 3) + " | " + acc[page_row].cell("epochs", 1) + " | " +
                   acc[page_row].cell("contrast", 3) + " | " + acc[long_row].cell("contrast", 3) + " | " +
                   acc[no_path_loss_row].cell("contrast", 3) + " |\n";
    notes += "- " + gc.name + ": held-out link AUC " + r.data.cell("link_auc", 3) + " (against 3 random " + gc.targets + " each); " +
             std::to_string(explained_total) + " of " + std::to_string(test_total) +
             " held-out links predicted present and explained; the PGExplainer MLP trained on " +
             r.data.cell("train_links", 1) + " training links per seed.\n";
    results.push_back(std::move(r));
  }
  std::string ranking;
  for (const auto& r : results) {
    ranking += "| " + r.name;
    for (int m : {page_row, long_row, no_path_loss_row, gnn_row, pg_row, random_row})
      ranking += " | " + r.methods[static_cast<std::size_t>(m)].cell("top", 3) + " / " +
                 r.methods[static_cast<std::size_t>(m)].cell("mask_only", 3) + " / " +
                 r.methods[static_cast<std::size_t>(m)].cell("same", 3);
    ranking += " | " + r.methods[uniform_row].cell("top", 3) + " |\n";
  }
  const across_seeds terms_only = citation_cause_auc(citations, 0.0, seeds);
  const across_seeds chains_only = citation_cause_auc(citations, 1.0, seeds);

  std::printf("### PaGE-Link on graphs with planted explanation paths\n\n");
  std::printf(
      "Three graph families, %zu seeds each (seed = generated graph, R-GCN training and explainer seed): the "
      "synthetic user-item-attribute graph (80 users, 60 items, 3 planted likes per user, explained by "
      "user -buys- item -has- attribute -has- item) at two densities, and a citation-style graph "
      "(`citation_graph`: 60 authors, 120 papers, 3 venues, 20 terms, 2 authors and 2 citations per paper; "
      "5 planted \"author cites paper\" links per author, each caused by a citation chain "
      "author -writes- paper -cites- paper -cites- paper or a shared term author -writes- paper -has- term "
      "-has- paper, among co-author and venue paths that are not causes). An R-GCN (2 layers, 32 wide, "
      "DistMult) is trained on 80%% of the planted links; the held-out links it predicts present are "
      "explained. Each cell: mean over the seeds of the per-seed mean over links, ± the standard deviation "
      "across seeds. Time per link on 2 threads; the PGExplainer row's includes its training, spread over the "
      "links it then explains.\n\n",
      seeds.size());
  std::printf("| graph | method | mask-AUC | top path is a planted path | a planted path among the top 5 | hit@5 "
              "edges | hit@10 edges | ms per link |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n%s\n", table.c_str());
  std::printf("%s", notes.c_str());
  std::printf("- The citation graph's R-GCN is weak. On graphs whose links all have one cause it reaches a "
              "held-out AUC of %s when every cause is a shared term and %s when every cause is a citation "
              "chain: a 2-layer R-GCN cannot match the middle paper of a chain, which carries no identity of "
              "its own (term nodes carry a one-hot), so on this graph the explainers explain a model that "
              "uses the planted paths only in part.\n\n",
              terms_only.cell("link_auc", 3).c_str(), chains_only.cell("link_auc", 3).c_str());
  std::printf("hit@k edges: PaGE-Link's top-k path hit (some planted path lies inside the k edges of largest "
              "mask). Paths: Yen's 5 cheapest of at most 3 edges under PaGE-Link's cost log in-degree - log "
              "mask. `page_link.hpp` does both parts of PaGE-Link that the plain edge mask lacks: the search space "
              "is the 2-hop computation graph pruned to its k-core with the endpoints kept "
              "(`link_search_space`; k = 2 on the user-item graphs and 3 on the citation graph, PaGE-Link's "
              "settings for its synthetic and its citation data), and the mask is trained on the prediction loss plus the path loss "
              "(alpha times minus the mean mask on the 5 current cheapest paths, recomputed each epoch, plus beta "
              "times the mean mask off them).\n\n");
  std::printf("#### Why PaGE-Link's top path is no more often planted than the baselines'\n\n");
  std::printf("Measured on the links explained above (mean ± standard deviation across the seeds). Candidate "
              "paths: every simple path of at most 3 edges between the link's endpoints (PaGE-Link's output "
              "bound; all lie in the search space). Contrast: mean mask on planted edges minus mean mask on the "
              "other edges of the search space.\n\n");
  std::printf("| graph | candidate paths per link | planted share of the candidates | links whose candidates are "
              "all planted | a planted path survives the k-core | PaGE-Link mask epochs run | PaGE-Link contrast "
              "| 200-epoch PaGE-Link contrast | 200 epochs, no path loss: contrast |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n%s\n", diagnostics.c_str());
  std::printf("Each cell below: top path is planted under PaGE-Link's cost (log in-degree - log mask) / top path "
              "is planted when the same mask ranks paths alone (cost -log mask) / share of links whose top path "
              "is the one a uniform mask gives, i.e. the path the degrees alone pick. Last column: the top-path "
              "hit of the degrees alone.\n\n");
  std::printf("| graph | PaGE-Link | PaGE-Link, 200 epochs | PaGE-Link, 200 epochs, no path loss | GNNExplainer-style "
              "| PGExplainer-style | random mask | degrees alone |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n%s\n", ranking.c_str());
  // The findings, with the figures of this run (sparse, dense, citation = results 0, 1, 2).
  const auto at = [&](std::size_t c, int m, const char* key) {
    return results[c].methods[static_cast<std::size_t>(m)].cell(key, 3);
  };
  const auto three = [&](int m, const char* key) {
    return at(0, m, key) + ", " + at(1, m, key) + " and " + at(2, m, key);
  };
  std::string findings;
  findings += "What the measurements show (figures for the sparse user-item, dense user-item and citation graphs, "
              "in that order):\n\n";
  findings += "1. Chance is high on the sparse graph. A link there has " + results[0].census.cell("candidates", 1) +
              " candidate paths and for " + results[0].census.cell("all", 3) +
              " of the links every candidate is planted, so a random mask's top path is planted " +
              at(0, random_row, "top") + " of the time; on the dense graph (" +
              results[1].census.cell("candidates", 1) + " candidates, " + results[1].census.cell("share", 3) +
              " of them planted) chance falls to " + at(1, random_row, "top") +
              ". On the sparse graph a top-path hit rate leaves the methods little room above chance.\n";
  findings += "2. Candidate paths and pruning are not the cause. A planted path survives the k-core for " +
              results[0].census.cell("kept", 3) + ", " + results[1].census.cell("kept", 3) + " and " +
              results[2].census.cell("kept", 3) +
              " of the links (with k = 2 it must: every inner node of a path between the endpoints has two "
              "neighbours on it), and a planted path is among PaGE-Link's 5 output paths for " +
              three(page_row, "in5") + ".\n";
  findings += "3. PaGE-Link's mask training is short. Its early stop ends the 20 epochs after " +
              results[0].methods[page_row].cell("epochs", 1) +
              " on the sparse graph, the mask barely separates planted from other edges (contrast " +
              three(page_row, "contrast") + "), and the top path is the one the degrees alone pick for " +
              three(page_row, "same") + " of the links; the degrees alone score " + three(uniform_row, "top") +
              ", PaGE-Link " + three(page_row, "top") + ".\n";
  findings += "4. The path loss is what keeps the top path off the planted paths. Each epoch it raises the mask "
              "on the 5 paths that are currently cheapest, which at the start are the degrees' choice, planted or "
              "not, and lowers it elsewhere. With 200 epochs and the path loss the top path is planted " +
              three(long_row, "top") + "; ranked by that mask alone (no degree term) on the dense graph, only " +
              at(1, long_row, "mask_only") + ", against " + at(1, random_row, "mask_only") +
              " for a random mask, and the top path stays the degrees' choice for " + three(long_row, "same") +
              " of the links (" + three(no_path_loss_row, "same") +
              " without the path loss). The same 200 epochs without the path loss (alpha = beta = 0) give " +
              three(no_path_loss_row, "top") + ", against " + three(gnn_row, "top") +
              " for the GNNExplainer-style mask and " + three(pg_row, "top") +
              " for the PGExplainer-style MLP, with mask-AUC " + three(no_path_loss_row, "auc") + " (with the path loss " +
              three(long_row, "auc") + ").\n";
  findings += "5. PaGE-Link's advantage in the paper is mask-AUC, and that reproduces: " + three(page_row, "auc") +
              " against " + three(gnn_row, "auc") + " for the GNNExplainer-style mask and " + three(pg_row, "auc") +
              " for the PGExplainer-style MLP. Its top path is planted no more often than the GNNExplainer-style "
              "mask's because "
              "with PaGE-Link's settings the path is picked by the degree term of the cost and the path loss "
              "locks that choice in (items 3 and 4), not because the planted paths are missing from the "
              "candidates or cut by the k-core (item 2). The PGExplainer-style MLP uses the link edge mask's "
              "objective (size 1e-5, entropy 0.1), not DIG's PGExplainer coefficients (0.01, 5e-4), so that only the "
              "parametrisation differs from the GNNExplainer-style row.\n\n";
  std::printf("%s", findings.c_str());
  std::printf("page_link_table ran in %.0f s on 2 threads.\n", attrib_examples::seconds_since(program_start));
  return 0;
}
