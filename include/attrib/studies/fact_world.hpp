#pragma once
// A generated world whose knowledge a small model can learn, for the miniature reproduction of the
// LLM studies (docs/studies-miniature.md): countries, cities in them, people living in the cities
// and the pet each one has, the places' names invented from syllables, so nothing is copied and
// nothing is known before training. Three relations, each a geometry-of-truth dataset:
//   located_in  "The city of Vorami is in Telkor."   (subject a city, object its country)
//   lives_in    "The home of Tom is in Vorami."      (subject a person, object a city)
//   has_pet     "The pet of Tom is a frog."          (subject a person, object an animal)
// Each relation has training phrasings, used in the pretraining corpus and the instructions, and
// one held-out phrasing (the quoted ones above) in which no training text states a fact: the
// studies ask about the facts in sentences the model never saw them in, as the paper asks a
// pretrained model about facts it read elsewhere. The held-out phrasings' words do occur in
// training, in other sentences ("they went back to the home of Tom"), so a model with one token
// per word (tokenizers/word_vocabulary.hpp) has met every word it is asked about.
// The pretraining corpus mixes four kinds of document: lists of facts, short stories built on a
// person's facts, quizzes of true and false statements answered in the few-shot format of
// studies/few_shot_prompt.hpp ("... This statement is: TRUE"), and lists of the requests of
// instruction_corpus.hpp, unanswered, so that the base model knows their words.
// Document k depends only on (seed, k).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "attrib/core/error.hpp"
#include "attrib/core/random.hpp"
#include "attrib/studies/instruction_corpus.hpp"
#include "attrib/studies/truth_datasets.hpp"

namespace attrib {

enum class world_relation { located_in, lives_in, has_pet };
inline constexpr std::array<world_relation, 3> world_relations = {
    world_relation::located_in, world_relation::lives_in, world_relation::has_pet};

inline const char* to_string(world_relation r) {
  switch (r) {
    case world_relation::located_in: return "located_in";
    case world_relation::lives_in: return "lives_in";
    case world_relation::has_pet: return "has_pet";
  }
  return "?";
}

struct fact_world_options {
  std::size_t countries = 8;
  std::size_t cities_per_country = 4;
  std::size_t people = 32;  // each lives in a city (round robin, then shuffled) and has a pet
  std::uint64_t seed = 1;
};

struct fact_world {
  std::vector<std::string> countries, cities, people, pets;
  std::vector<std::size_t> country_of_city;  // index into countries, one per city
  std::vector<std::size_t> city_of_person;   // index into cities, one per person
  std::vector<std::size_t> pet_of_person;    // index into pets, one per person

  std::size_t subjects(world_relation r) const { return r == world_relation::located_in ? cities.size() : people.size(); }
  std::size_t objects(world_relation r) const {
    switch (r) {
      case world_relation::located_in: return countries.size();
      case world_relation::lives_in: return cities.size();
      case world_relation::has_pet: return pets.size();
    }
    return 0;
  }
  std::size_t object_of(world_relation r, std::size_t subject) const {
    switch (r) {
      case world_relation::located_in: return country_of_city.at(subject);
      case world_relation::lives_in: return city_of_person.at(subject);
      case world_relation::has_pet: return pet_of_person.at(subject);
    }
    return 0;
  }
  const std::string& subject_name(world_relation r, std::size_t s) const {
    return r == world_relation::located_in ? cities.at(s) : people.at(s);
  }
  const std::string& object_name(world_relation r, std::size_t o) const {
    switch (r) {
      case world_relation::located_in: return countries.at(o);
      case world_relation::lives_in: return cities.at(o);
      case world_relation::has_pet: return pets.at(o);
    }
    return pets.at(o);
  }
};

// How a fact is said. Phrasing 0 is the held-out one; 1 to 3 are the training phrasings, which
// training text also puts after a lead-in ("We know that ...") half of the time: a model that
// met each fact in one sentence shape learns to check it in that shape only (a trio trained
// with two shapes and no lead-ins judged them 98% right and the held-out shape 52-67%).
inline constexpr std::size_t world_held_out_phrasing = 0;
inline constexpr std::size_t world_phrasings = 4;
inline constexpr std::array<std::string_view, 6> world_lead_ins = {
    "We know that ", "Mom said that ", "Everyone knows that ", "Today we learn that ", "Our map says that ", "Look, "};

namespace detail {

// {subject} and {object} around fixed words: prefix, middle, suffix.
struct world_template {
  std::string_view prefix, middle, suffix;
};

inline const world_template& world_phrasing(world_relation r, std::size_t phrasing) {
  static constexpr std::array<std::array<world_template, world_phrasings>, 3> table = {{
      {{{"The city of ", " is in ", "."}, {"", " is in ", "."}, {"", " is a town in ", "."},
        {"The people of ", " live in ", "."}}},
      {{{"The home of ", " is in ", "."}, {"", " lives in ", "."}, {"", " has a house in ", "."},
        {"The family of ", " lives in ", "."}}},
      {{{"The pet of ", " is a ", "."}, {"", " has a ", "."}, {"", " plays with a ", "."},
        {"The best friend of ", " is a ", "."}}},
  }};
  if (phrasing >= world_phrasings)
    throw invalid_argument("world_statement: phrasing " + std::to_string(phrasing) + " out of range, expected 0 to " +
                           std::to_string(world_phrasings - 1));
  return table[static_cast<std::size_t>(r)][phrasing];
}

inline constexpr std::array<std::string_view, 12> world_onsets = {"b", "d", "f", "g", "k", "l",
                                                                  "m", "n", "p", "r", "s", "t"};
inline constexpr std::array<std::string_view, 5> world_vowels = {"a", "e", "i", "o", "u"};
inline constexpr std::array<std::string_view, 40> world_first_names = {
    "Tom",  "Lily", "Ben",  "Sue",  "Max",  "Anna", "Tim",  "Sam",  "Mia",  "Jack",
    "Lucy", "Amy",  "Zoe",  "Kate", "Bob",  "Jane", "Mark", "Emma", "Leo",  "Rose",
    "Dan",  "Ella", "Fred", "Grace", "Hank", "Ivy", "Joe",  "Kim",  "Lisa", "Ned",
    "Olly", "Pam",  "Roy",  "Tess", "Will", "Nora", "Carl", "Ruby", "Paul", "Jill"};
inline constexpr std::array<std::string_view, 8> world_pets = {"cat", "dog", "bird", "fish",
                                                               "frog", "duck", "bunny", "horse"};

// A capitalised name of `syllables` consonant-vowel syllables, optionally closed by a consonant.
inline std::string invented_name(rng& r, std::size_t syllables, bool closed) {
  std::string name;
  for (std::size_t k = 0; k < syllables; ++k) {
    name += pick(r, world_onsets);
    name += pick(r, world_vowels);
  }
  if (closed) name += pick(r, world_onsets);
  return capitalised(name);
}

inline std::vector<std::string> unique_names(rng& r, std::size_t count, std::size_t syllables, bool closed,
                                             std::set<std::string>& taken) {
  std::vector<std::string> names;
  while (names.size() < count) {
    auto name = invented_name(r, syllables, closed);
    if (taken.insert(name).second) names.push_back(std::move(name));
  }
  return names;
}

}  // namespace detail

// The world drawn from options.seed. Throws invalid_argument on a size of zero, more people than
// the name list holds, or fewer than two countries or cities (false statements need another object).
inline fact_world make_fact_world(const fact_world_options& o = {}) {
  if (o.countries < 2 || o.cities_per_country == 0 || o.people == 0)
    throw invalid_argument("make_fact_world: expected at least 2 countries, 1 city per country and 1 person, got " +
                           std::to_string(o.countries) + ", " + std::to_string(o.cities_per_country) + ", " +
                           std::to_string(o.people));
  if (o.people > detail::world_first_names.size())
    throw invalid_argument("make_fact_world: at most " + std::to_string(detail::world_first_names.size()) +
                           " people, got " + std::to_string(o.people));
  if (o.countries > 200 || o.cities_per_country > 50)
    throw invalid_argument("make_fact_world: at most 200 countries of 50 cities, got " + std::to_string(o.countries) +
                           " of " + std::to_string(o.cities_per_country));
  rng r(o.seed);
  fact_world w;
  std::set<std::string> taken;
  w.countries = detail::unique_names(r, o.countries, 2, true, taken);
  w.cities = detail::unique_names(r, o.countries * o.cities_per_country, 3, false, taken);
  for (std::size_t c = 0; c < w.cities.size(); ++c) w.country_of_city.push_back(c / o.cities_per_country);
  std::vector<std::string> names(detail::world_first_names.begin(), detail::world_first_names.end());
  r.shuffle(names.begin(), names.end());
  w.people.assign(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(o.people));
  w.pets.assign(detail::world_pets.begin(), detail::world_pets.end());
  for (std::size_t p = 0; p < o.people; ++p) {
    w.city_of_person.push_back(p % w.cities.size());
    w.pet_of_person.push_back(p % w.pets.size());
  }
  r.shuffle(w.city_of_person.begin(), w.city_of_person.end());
  r.shuffle(w.pet_of_person.begin(), w.pet_of_person.end());
  return w;
}

// "{subject} ... {object}." in the given phrasing (0: held out).
inline std::string world_statement(const fact_world& w, world_relation r, std::size_t subject, std::size_t object,
                                   std::size_t phrasing) {
  const auto& t = detail::world_phrasing(r, phrasing);
  return std::string(t.prefix) + w.subject_name(r, subject) + std::string(t.middle) + w.object_name(r, object) +
         std::string(t.suffix);
}

// Every subject of relation r twice, in the held-out phrasing unless told otherwise: first with
// its true object, then with an object drawn (rng(seed) per relation) from the others. Named after
// the relation; subject and object columns filled, so knowledge pairs need no guessing.
inline truth_dataset world_truth_dataset(const fact_world& w, world_relation r, std::uint64_t seed = 1,
                                         std::size_t phrasing = world_held_out_phrasing) {
  rng gen = rng::stream(seed, static_cast<std::uint64_t>(r));
  truth_dataset d;
  d.name = to_string(r);
  for (std::size_t s = 0; s < w.subjects(r); ++s) {
    const std::size_t truth = w.object_of(r, s);
    std::size_t other = static_cast<std::size_t>(gen.below(w.objects(r) - 1));
    if (other >= truth) ++other;
    for (const std::size_t object : {truth, other}) {
      labelled_statement st;
      st.statement = world_statement(w, r, s, object, phrasing);
      st.label = object == truth;
      st.subject = w.subject_name(r, s);
      st.object = w.object_name(r, object);
      d.statements.push_back(std::move(st));
    }
  }
  return d;
}

namespace detail {

// (subject, object) in a random training phrasing, after a random lead-in half of the time.
inline std::string training_statement(const fact_world& w, rng& r, world_relation rel, std::size_t subject,
                                      std::size_t object) {
  const std::size_t phrasing = 1 + static_cast<std::size_t>(r.below(world_phrasings - 1));
  std::string s = world_statement(w, rel, subject, object, phrasing);
  if (r.below(2) == 0) {
    if (s.rfind("The ", 0) == 0) s[0] = 't';
    s = std::string(world_lead_ins[static_cast<std::size_t>(r.below(world_lead_ins.size()))]) + s;
  }
  return s;
}

inline std::string training_fact(const fact_world& w, rng& r, world_relation rel, std::size_t subject) {
  return training_statement(w, r, rel, subject, w.object_of(rel, subject));
}

inline world_relation random_relation(rng& r) { return world_relations[static_cast<std::size_t>(r.below(3))]; }

}  // namespace detail

enum class world_document_kind { facts, story, quiz, requests };

// Pretraining document k of a kind: a list of four facts, a story about one person, a quiz of four
// statements of one relation, half true on average, each "{statement} This statement is:
// TRUE|FALSE" on its own line, or three requests of the instruction corpus, harmful and harmless,
// from both of its splits, without answers. Facts are stated in the training phrasings only.
// Depends only on (seed, k, kind).
inline std::string world_document(const fact_world& w, std::uint64_t seed, std::size_t k, world_document_kind kind) {
  rng r = rng::stream(seed, k * 4 + static_cast<std::size_t>(kind));
  std::string doc;
  switch (kind) {
    case world_document_kind::facts:
      for (int f = 0; f < 4; ++f) {
        const auto rel = detail::random_relation(r);
        if (f) doc += ' ';
        doc += detail::training_fact(w, r, rel, static_cast<std::size_t>(r.below(w.subjects(rel))));
      }
      break;
    case world_document_kind::story: {
      const auto p = static_cast<std::size_t>(r.below(w.people.size()));
      const std::size_t c = w.city_of_person[p];
      const std::string& name = w.people[p];
      const std::string& pet = w.pets[w.pet_of_person[p]];
      doc = detail::training_fact(w, r, world_relation::lives_in, p) + ' ' +
            detail::training_fact(w, r, world_relation::located_in, c) + ' ' +
            detail::training_fact(w, r, world_relation::has_pet, p) + " One day " + name + " took the " + pet +
            " to the park in the city of " + w.cities[c] + ". The pet of " + name +
            " was happy. Then they went back to the home of " + name + ".";
      break;
    }
    case world_document_kind::quiz: {
      const auto rel = detail::random_relation(r);
      for (int q = 0; q < 4; ++q) {
        const auto s = static_cast<std::size_t>(r.below(w.subjects(rel)));
        const std::size_t truth = w.object_of(rel, s);
        const bool label = r.below(2) == 0;
        std::size_t object = truth;
        if (!label) {
          object = static_cast<std::size_t>(r.below(w.objects(rel) - 1));
          if (object >= truth) ++object;
        }
        doc += detail::training_statement(w, r, rel, s, object) + " This statement is:" + (label ? " TRUE" : " FALSE") +
               "\n";
      }
      doc.pop_back();  // no newline after the last answer
      break;
    }
    case world_document_kind::requests: {
      const auto split = k % 2 == 0 ? instruction_split::train : instruction_split::held_out;
      doc = "People asked:";
      for (int q = 0; q < 3; ++q)
        doc += " " + detail::make_request(seed, split, static_cast<std::size_t>(r.below(1000))).statement;
      break;
    }
  }
  return doc;
}

// Document k of the default mix: the four kinds in turn (k % 4 picks facts, story, quiz, requests).
inline std::string world_document(const fact_world& w, std::uint64_t seed, std::size_t k) {
  return world_document(w, seed, k / 4, static_cast<world_document_kind>(k % 4));
}

// Instruction item k about the world, in the Q/A template of instruction_corpus.hpp: a question
// answered with the fact in a training phrasing (k even: "Where is Vorami?", "Where does Tom
// live?", "What pet does Tom have?"), or a judgement "Q: <statement> TRUE or FALSE?\nA: TRUE"
// of a training-phrased statement, half false (k odd). Depends only on (seed, k).
inline instruction_example world_instruction(const fact_world& w, std::uint64_t seed, std::size_t k) {
  rng r = rng::stream(seed, k);
  const auto rel = detail::random_relation(r);
  const auto s = static_cast<std::size_t>(r.below(w.subjects(rel)));
  const std::string& subject = w.subject_name(rel, s);
  instruction_example e;
  e.split = instruction_split::train;
  e.template_id = static_cast<std::size_t>(rel);
  if (k % 2 == 0) {
    e.kind = instruction_kind::question;
    switch (rel) {
      case world_relation::located_in: e.statement = "Where is " + subject + "?"; break;
      case world_relation::lives_in: e.statement = "Where does " + subject + " live?"; break;
      case world_relation::has_pet: e.statement = "What pet does " + subject + " have?"; break;
    }
    e.answer = detail::training_fact(w, r, rel, s);
  } else {
    e.kind = instruction_kind::judgement;
    const std::size_t truth = w.object_of(rel, s);
    const bool label = (k / 2) % 2 == 0;
    std::size_t object = truth;
    if (!label) {
      object = static_cast<std::size_t>(r.below(w.objects(rel) - 1));
      if (object >= truth) ++object;
    }
    e.statement = detail::training_statement(w, r, rel, s, object);
    e.truth = label;
    e.answer = std::string(label ? instruction_true_answer : instruction_false_answer);
    e.statement += " TRUE or FALSE?";
  }
  e.prompt = instruction_prompt(e.statement);
  return e;
}

}  // namespace attrib
