// The generated world of facts behind the miniature reproduction: its structure, its truth
// datasets, and that the pretraining and instruction texts state only true facts (or label false
// ones FALSE) and never use the held-out phrasings.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "attrib/studies/fact_world.hpp"

namespace {

using attrib::world_relation;

// Every statement of the world in the training phrasings, split by truth, spelled out by hand
// from the templates the header documents (not by world_statement).
struct statement_sets {
  std::set<std::string> true_ones, false_ones;
};

statement_sets training_statements(const attrib::fact_world& w) {
  statement_sets s;
  const std::vector<std::string> lead_ins = {"We know that ",        "Mom said that ",      "Everyone knows that ",
                                             "Today we learn that ", "Our map says that ", "Look, "};
  auto add = [&](bool truth, const std::string& text) {
    auto& set = truth ? s.true_ones : s.false_ones;
    set.insert(text);
    const std::string lower = text.rfind("The ", 0) == 0 ? "t" + text.substr(1) : text;
    for (const auto& l : lead_ins) set.insert(l + lower);
  };
  for (std::size_t c = 0; c < w.cities.size(); ++c)
    for (std::size_t k = 0; k < w.countries.size(); ++k) {
      const bool t = w.country_of_city[c] == k;
      add(t, w.cities[c] + " is in " + w.countries[k] + ".");
      add(t, w.cities[c] + " is a town in " + w.countries[k] + ".");
      add(t, "The people of " + w.cities[c] + " live in " + w.countries[k] + ".");
    }
  for (std::size_t p = 0; p < w.people.size(); ++p) {
    for (std::size_t c = 0; c < w.cities.size(); ++c) {
      const bool t = w.city_of_person[p] == c;
      add(t, w.people[p] + " lives in " + w.cities[c] + ".");
      add(t, w.people[p] + " has a house in " + w.cities[c] + ".");
      add(t, "The family of " + w.people[p] + " lives in " + w.cities[c] + ".");
    }
    for (std::size_t a = 0; a < w.pets.size(); ++a) {
      const bool t = w.pet_of_person[p] == a;
      add(t, w.people[p] + " has a " + w.pets[a] + ".");
      add(t, w.people[p] + " plays with a " + w.pets[a] + ".");
      add(t, "The best friend of " + w.people[p] + " is a " + w.pets[a] + ".");
    }
  }
  return s;
}

// Every statement in a held-out phrasing, true or false, spelled by hand.
std::vector<std::string> held_out_statements(const attrib::fact_world& w) {
  std::vector<std::string> out;
  for (const auto& c : w.cities)
    for (const auto& k : w.countries) out.push_back("The city of " + c + " is in " + k + ".");
  for (const auto& p : w.people) {
    for (const auto& c : w.cities) out.push_back("The home of " + p + " is in " + c + ".");
    for (const auto& a : w.pets) out.push_back("The pet of " + p + " is a " + a + ".");
  }
  return out;
}

bool has_held_out_statement(const std::string& text, const std::vector<std::string>& held_out) {
  for (const auto& h : held_out)
    if (text.find(h) != std::string::npos) return true;
  return false;
}

// Splits "A. B. C." after each ". " into sentences that keep their period.
std::vector<std::string> sentences(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t at = text.find(". "); at != std::string::npos; at = text.find(". ", start)) {
    out.push_back(text.substr(start, at + 1 - start));
    start = at + 2;
  }
  out.push_back(text.substr(start));
  return out;
}

}  // namespace

TEST_CASE("make_fact_world: sizes, unique names, cities spread over countries, seeded") {
  const auto w = attrib::make_fact_world({.countries = 8, .cities_per_country = 4, .people = 32, .seed = 5});
  CHECK(w.countries.size() == 8);
  CHECK(w.cities.size() == 32);
  CHECK(w.people.size() == 32);
  std::set<std::string> names(w.countries.begin(), w.countries.end());
  names.insert(w.cities.begin(), w.cities.end());
  names.insert(w.people.begin(), w.people.end());
  CHECK(names.size() == 72);  // no name means two things
  std::vector<int> per_country(8, 0);
  for (std::size_t k : w.country_of_city) ++per_country.at(k);
  for (int n : per_country) CHECK(n == 4);
  std::vector<int> per_city(32, 0), per_pet(w.pets.size(), 0);
  for (std::size_t c : w.city_of_person) ++per_city.at(c);
  for (std::size_t a : w.pet_of_person) ++per_pet.at(a);
  for (int n : per_city) CHECK(n == 1);  // 32 people in 32 cities: one each
  for (int n : per_pet) CHECK(n == 4);   // 32 people, 8 pets
  for (const auto& c : w.cities) {
    CHECK(c.size() == 6);  // three consonant-vowel syllables
    CHECK((c[0] >= 'A' && c[0] <= 'Z'));
  }

  const auto again = attrib::make_fact_world({.countries = 8, .cities_per_country = 4, .people = 32, .seed = 5});
  CHECK(again.cities == w.cities);
  CHECK(again.city_of_person == w.city_of_person);
  const auto other = attrib::make_fact_world({.countries = 8, .cities_per_country = 4, .people = 32, .seed = 6});
  CHECK(other.cities != w.cities);
}

TEST_CASE("make_fact_world refuses worlds without room for false statements or names") {
  CHECK_THROWS_WITH_AS(attrib::make_fact_world({.countries = 1}), doctest::Contains("at least 2 countries"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::make_fact_world({.people = 0}), doctest::Contains("1 person"), attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::make_fact_world({.people = 41}), doctest::Contains("at most 40 people"),
                       attrib::invalid_argument);
  CHECK_THROWS_WITH_AS(attrib::make_fact_world({.countries = 1000}), doctest::Contains("at most 200 countries"),
                       attrib::invalid_argument);
  CHECK_THROWS_AS(attrib::world_statement(attrib::make_fact_world(), world_relation::lives_in, 0, 0, 4),
                  attrib::invalid_argument);
}

TEST_CASE("world_truth_dataset: each subject true then false, in the held-out phrasing") {
  const auto w = attrib::make_fact_world({.seed = 2});
  const auto cities = attrib::world_truth_dataset(w, world_relation::located_in, 3);
  CHECK(cities.name == "located_in");
  REQUIRE(cities.statements.size() == 2 * w.cities.size());
  for (std::size_t c = 0; c < w.cities.size(); ++c) {
    const auto& t = cities.statements[2 * c];
    const auto& f = cities.statements[2 * c + 1];
    CHECK(t.label);
    CHECK_FALSE(f.label);
    CHECK(t.statement == "The city of " + w.cities[c] + " is in " + w.countries[w.country_of_city[c]] + ".");
    CHECK(t.subject == w.cities[c]);
    CHECK(f.subject == w.cities[c]);
    CHECK(t.object == w.countries[w.country_of_city[c]]);
    CHECK(f.object != t.object);
    CHECK(f.statement == "The city of " + w.cities[c] + " is in " + f.object + ".");
  }
  const auto pets = attrib::world_truth_dataset(w, world_relation::has_pet, 3);
  CHECK(pets.statements[0].statement == "The pet of " + w.people[0] + " is a " + w.pets[w.pet_of_person[0]] + ".");
  const auto homes = attrib::world_truth_dataset(w, world_relation::lives_in, 3);
  CHECK(homes.statements[1].statement.rfind("The home of " + w.people[0] + " is in ", 0) == 0);
  // The false objects are drawn from all the others: over 32 cities several countries appear.
  std::set<std::string> false_countries;
  for (std::size_t i = 1; i < cities.statements.size(); i += 2) false_countries.insert(cities.statements[i].object);
  CHECK(false_countries.size() >= 5);
  attrib::require_both_labels(cities, "test");
  // Seeded: the same seed gives the same false objects.
  CHECK(attrib::world_truth_dataset(w, world_relation::located_in, 3).statements[1].object == cities.statements[1].object);
}

TEST_CASE("world_document: true facts, correctly labelled quizzes, no held-out statement") {
  const auto w = attrib::make_fact_world({.seed = 1});
  const auto known = training_statements(w);
  const auto held_out = held_out_statements(w);
  std::size_t quiz_true = 0, quiz_false = 0, facts = 0, requests = 0;
  bool held_out_words_seen = false;
  for (std::size_t k = 0; k < 2000; ++k) {
    const std::string doc = attrib::world_document(w, 7, k);
    REQUIRE_FALSE(has_held_out_statement(doc, held_out));
    CHECK(doc == attrib::world_document(w, 7, k));  // depends on (seed, k) alone
    if (k % 4 == 3) {
      CHECK(doc.rfind("People asked: ", 0) == 0);
      CHECK(std::count(doc.begin(), doc.end(), '?') == 3);
      ++requests;
    } else if (k % 4 == 2) {
      std::size_t start = 0;
      for (int line = 0; line < 4; ++line) {
        const auto end = doc.find('\n', start);
        const std::string text = doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
        const auto at = text.find(" This statement is: ");
        REQUIRE(at != std::string::npos);
        const std::string statement = text.substr(0, at), answer = text.substr(at + 20);
        REQUIRE((answer == "TRUE" || answer == "FALSE"));
        const bool truth = known.true_ones.count(statement) > 0;
        REQUIRE((truth || known.false_ones.count(statement) > 0));
        CHECK(truth == (answer == "TRUE"));
        (truth ? quiz_true : quiz_false) += 1;
        start = end + 1;
        if (end == std::string::npos) CHECK(line == 3);
      }
    } else {
      // Fact lists and the first three sentences of a story are facts of the world.
      const auto parts = sentences(doc);
      const std::size_t checked = k % 4 == 0 ? parts.size() : 3;
      if (k % 4 == 1)
        held_out_words_seen = held_out_words_seen || (doc.find("the city of ") != std::string::npos &&
                                                      doc.find("The pet of ") != std::string::npos &&
                                                      doc.find("the home of ") != std::string::npos);
      REQUIRE(parts.size() >= checked);
      for (std::size_t i = 0; i < checked; ++i) {
        CHECK_MESSAGE(known.true_ones.count(parts[i]) == 1, parts[i]);
        ++facts;
      }
    }
  }
  CHECK(facts > 3000);
  CHECK(requests == 500);
  CHECK(held_out_words_seen);  // the held-out phrasings' words occur, in other sentences
  // Half the quiz answers are FALSE, within sampling error (2000 draws: sd about 22).
  CHECK(quiz_true > 900);
  CHECK(quiz_false > 900);
}

TEST_CASE("world_instruction: questions answered with true facts, judgements labelled by the world") {
  const auto w = attrib::make_fact_world({.seed = 1});
  const auto known = training_statements(w);
  const auto held_out = held_out_statements(w);
  std::size_t judged_true = 0, judged_false = 0;
  for (std::size_t k = 0; k < 600; ++k) {
    const auto e = attrib::world_instruction(w, 3, k);
    REQUIRE_FALSE(has_held_out_statement(e.prompt + " " + e.answer, held_out));
    CHECK(e.prompt.rfind("Q: ", 0) == 0);
    CHECK(e.prompt.substr(e.prompt.size() - 3) == "\nA:");
    if (k % 2 == 0) {
      CHECK(e.kind == attrib::instruction_kind::question);
      CHECK_MESSAGE(known.true_ones.count(e.answer) == 1, e.answer);
    } else {
      CHECK(e.kind == attrib::instruction_kind::judgement);
      const std::string suffix = " TRUE or FALSE?";
      REQUIRE(e.statement.size() > suffix.size());
      const std::string claim = e.statement.substr(0, e.statement.size() - suffix.size());
      const bool truth = known.true_ones.count(claim) > 0;
      REQUIRE((truth || known.false_ones.count(claim) > 0));
      REQUIRE(e.truth.has_value());
      CHECK(*e.truth == truth);
      CHECK(e.answer == (truth ? "TRUE" : "FALSE"));
      (truth ? judged_true : judged_false) += 1;
    }
  }
  CHECK(judged_true == 150);  // exactly half of the judgements
  CHECK(judged_false == 150);
}
