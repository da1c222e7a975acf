"""Sixth pass: which sense of a topic's words makes an article about it (docs/tagging.md).
Each case is a sentence written for the test, beside a control that differs only in the
behaviour under test; the evidence of quality is benchmarks/tagging_real.py."""

from __future__ import annotations

import re
import time

import pytest
import yaml

from newsflow.core.tagging import Tagger, capitalised
from newsflow.taxonomy_files import BUNDLED_TAXONOMY, load_taxonomy
from tests.helpers import tag_names


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_taxonomy())


def score(tagger: Tagger, topic: str, title: str, body: str) -> float:
    return next(e.score for e in tagger.explain(title, body) if e.topic == topic)


# --- sanctions ----------------------------------------------------------------------------------

def test_retaliation_against_no_named_state_is_trade_policy_not_a_sanction(tagger: Tagger) -> None:
    bill = "A House panel approved a bill that would require Congress to retaliate against {}."
    general = bill.format("foreign countries that follow unfair trade practices")
    named = bill.format("Japan for breaking the semiconductor pact")
    assert score(tagger, "sanctions", "Trade bill clears panel", general) < 0.5 * score(
        tagger, "sanctions", "Trade bill clears panel", named)


def test_retaliation_a_policy_might_provoke_counts_less_than_one_threatened(
        tagger: Tagger) -> None:
    title = "Energy agency opposes fee"
    possible = ("An oil import fee could prompt trade retaliation against the United States, "
                "the agency's director told a conference.")
    threatened = ("Oil exporters threatened trade retaliation against the United States over "
                  "the fee, the agency's director told a conference.")
    assert score(tagger, "sanctions", title, possible) < 0.5 * score(
        tagger, "sanctions", title, threatened)
    fears = ("Exporters voiced fears of retaliation against the United States over the fee, the "
             "agency's director told a conference.")
    assert score(tagger, "sanctions", title, fears) < 0.5 * score(
        tagger, "sanctions", title, threatened)


def test_a_markets_headline_makes_a_sanctions_clause_a_cause_named_in_passing(
        tagger: Tagger) -> None:
    body = ("The White House said the decision to impose trade sanctions against Japan may have "
            "weighed on the market.")
    assert "sanctions" in tag_names(tagger, "Council meets on budget", body)
    assert "sanctions" not in tag_names(tagger, "Stocks slip in light trading", body)
    assert "sanctions" not in tag_names(tagger, "Dollar edges lower against the yen", body)
    # Access to a stock exchange is a trade dispute, not a markets report.
    assert score(tagger, "sanctions", "Britain and Japan clash over stock market access",
                 body) > score(tagger, "sanctions", "Council meets on budget", body)


def test_sanctions_imposed_still_tag_under_a_markets_headline(tagger: Tagger) -> None:
    body = ("The United States imposed sweeping sanctions on Russian banks on Monday. The "
            "Treasury froze their assets and barred U.S. firms from dealing with them. The "
            "European Union said it would adopt similar sanctions against the banks.")
    assert "sanctions" in tag_names(tagger, "Stocks tumble as Washington sanctions Russian banks",
                                    body)



def test_a_markets_headline_that_names_sanctions_is_about_them_too(tagger: Tagger) -> None:
    body = "Stocks fell 2 percent on Monday, traders said."

    def title_weight(title: str) -> float:
        why = next(e for e in tagger.explain(title, body) if e.topic == "sanctions")
        return sum(h.weight for h in why.hits if h.evidence.field == "title")

    assert title_weight("Stocks tumble as Washington sanctions Russian banks") == pytest.approx(
        title_weight("Washington sanctions Russian banks"))
    # A markets headline that names no sanctions still makes a sanctions clause a cause.
    clause = ("The White House said the decision to impose trade sanctions against Japan may have "
              "weighed on the market.")
    assert "sanctions" not in tag_names(tagger, "Stocks slip as investors await jobs data", clause)

# --- naval_deployment ---------------------------------------------------------------------------

def test_a_warship_as_the_venue_of_an_event_is_not_a_deployment(tagger: Tagger) -> None:
    title = "Envoy marks national day"
    venue = ("The ambassador hosted a reception aboard the destroyer HMS Example, which is "
             "visiting the port with two frigates of the Royal Navy.")
    at_sea = ("The destroyer HMS Example sailed into the port with two frigates of the Royal "
              "Navy, the ambassador said.")
    assert "naval_deployment" in tag_names(tagger, title, at_sea)
    assert "naval_deployment" not in tag_names(tagger, title, venue)
    assert score(tagger, "naval_deployment", title, "The minister gave a speech on the deck "
                 "of the aircraft carrier in the harbour.") == 0.0


def test_the_venue_rule_takes_linear_time_on_a_run_of_punctuation(tagger: Tagger) -> None:
    # Dashes and dots are both separators and parts of words to the venue rule: a sentence
    # holding "party" before a long run of them must not make the regex try every split of it
    # (45 dashes took about 15 s when the two overlapped).
    body = "The party " + "-" * 45 + " met as Navy ships patrolled off the port."
    started = time.monotonic()
    assert "naval_deployment" in tag_names(tagger, "Dock strike enters third week", body)
    assert time.monotonic() - started < 1


def test_the_designation_rule_takes_linear_time_on_a_run_of_dots() -> None:
    # Dots are both separators and parts of words to the designation rule: searched on its
    # own, "Treasury" before a long run of them took time growing with the square of the run
    # (30,000 dots: seconds). The tagger's sentence splitting hides it today; the rule must
    # not depend on that.
    bundled = yaml.safe_load(BUNDLED_TAXONOMY.read_text(encoding="utf-8"))
    sanctions = next(topic for topic in bundled["topics"] if topic["name"] == "sanctions")
    [pattern] = [term["regex"] for term in sanctions["terms"]
                 if "designat" in term.get("regex", "")]
    started = time.monotonic()
    re.search(pattern, "Treasury" + "." * 30_000)
    assert time.monotonic() - started < 1


def test_sailors_working_ashore_in_a_labour_dispute_are_not_a_deployment(
        tagger: Tagger) -> None:
    title = "Dock strike enters third week"
    ashore = ("Navy sailors unloaded grain ships at the port as the dockers' strike entered its "
              "third week.")
    at_sea = "Navy ships patrolled off the port as the government warned the unions."
    assert "naval_deployment" in tag_names(tagger, title, at_sea)
    assert score(tagger, "naval_deployment", title, ashore) == 0.0


def test_buying_warships_is_procurement_not_deployment(tagger: Tagger) -> None:
    bought = "Greece agreed to buy four frigates from France, the defence ministry said."
    sent = "Greece sent four frigates into the Aegean Sea, the defence ministry said."
    assert "naval_deployment" in tag_names(tagger, "Greece reinforces the Aegean", sent)
    assert "naval_deployment" not in tag_names(tagger, "Greece to modernise fleet", bought)


def test_trade_words_away_from_the_ships_leave_a_deployment_alone(tagger: Tagger) -> None:
    # "sale", "buy" and "jobs" are procurement only next to the ship itself: an arms sale or
    # jobs named elsewhere in a deployment sentence are other news in the same sentence.
    title = "Gulf tensions"
    deployment = ("U.S. warships patrolled the Strait of Hormuz on Tuesday, as Congress debated "
                  "arms sales to Saudi Arabia.")
    sale = ("Congress debated the sale of two U.S. warships to Saudi Arabia on Tuesday, as "
            "tensions rose in the Strait of Hormuz.")
    assert "naval_deployment" in tag_names(tagger, title, deployment)
    assert "naval_deployment" not in tag_names(tagger, title, sale)


def test_a_speech_prepared_for_delivery_is_not_procurement(tagger: Tagger) -> None:
    body = ("In a speech prepared for delivery, the president said U.S. warships would escort "
            "the tankers through the Gulf.")
    assert "naval_deployment" in tag_names(tagger, "President outlines Gulf policy", body)


def test_the_navy_as_an_employer_or_a_budget_line_is_not_a_deployment(tagger: Tagger) -> None:
    assert "naval_deployment" not in tag_names(
        tagger, "Navy recruits more women",
        "The navy said it would recruit more women to serve on warships and submarines.")
    assert "naval_deployment" not in tag_names(
        tagger, "Navy to cut 5,000 jobs", "The navy will cut 5,000 jobs and retire two frigates "
        "early to save money, the defence ministry said.")


def test_tariffs_on_no_named_state_are_trade_policy(tagger: Tagger) -> None:
    title = "Trade bill softened"
    general = ("The panel dropped a clause forcing Congress to impose tariffs on imports from "
               "countries that engage in unfair trade practices, after the pact talks failed.")
    named = ("The panel backed a clause forcing Congress to impose tariffs on imports from Japan "
             "after the pact talks failed.")
    assert score(tagger, "sanctions", title, general) < 0.5 * score(
        tagger, "sanctions", title, named)


# --- missiles -----------------------------------------------------------------------------------

def test_a_missile_makers_results_are_business_news(tagger: Tagger) -> None:
    body = ("Raytheon, the missile maker, said quarterly profit rose 12 percent on strong demand "
            "for its defense electronics and air traffic systems.")
    assert "missiles" not in tag_names(tagger, "Raytheon profit rises", body)
    results = ("Shares of the company, which builds fighter jets and missiles for the air force, "
               "fell 3 percent.")
    news = "The company will build more missiles for the air force, the Pentagon said."
    assert score(tagger, "missiles", "Lockheed shares fall", results) < 0.5 * score(
        tagger, "missiles", "Lockheed to build more missiles", news)


def test_a_markets_headline_that_reports_a_launch_is_missile_news(tagger: Tagger) -> None:
    body = "Tokyo shares fell on Tuesday after North Korea's launch over Hokkaido, traders said."
    assert "missiles" in tag_names(tagger, "Shares slide as North Korea fires missile over Japan",
                                   body)


def test_a_contract_to_produce_missiles_is_still_missiles(tagger: Tagger) -> None:
    assert "missiles" in tag_names(
        tagger, "Lockheed wins Patriot contract", "Lockheed Martin won a 2 billion dollar "
        "contract to build Patriot missiles for the Army, the Pentagon said.")


def test_places_and_institutions_named_after_missiles_are_not_missile_news(
        tagger: Tagger) -> None:
    assert "missiles" not in tag_names(
        tagger, "Missile Defense Agency picks new head",
        "The Pentagon named a new director of the Missile Defense Agency on Tuesday.")
    assert "missiles" in tag_names(
        tagger, "Interceptor test succeeds", "The Missile Defense Agency said an interceptor "
        "launched from Alaska destroyed a mock ballistic missile over the Pacific.")


def test_a_title_case_headline_does_not_make_missile_words_a_name(tagger: Tagger) -> None:
    # In title case every word is capitalised, so "Missile Range" there is no place name
    # unless the body writes it so.
    body = ("Iran said on Tuesday that a test launch had doubled the distance its rockets can "
            "fly, a claim the Pentagon disputed.")
    assert "missiles" in tag_names(tagger, "Iran Says New Test Doubles Its Missile Range", body)
    assert "missiles" not in tag_names(
        tagger, "White Sands Missile Range Opens Its Gates to Visitors",
        "The White Sands Missile Range will open its gates to visitors on Saturday for the "
        "yearly tour of the Trinity site, the Army said.")


@pytest.mark.parametrize(("headline", "expected"), [
    ("Iran Says New Test Doubles Its Missile Range", True),
    ("U.S. WARSHIPS ESCORT KUWAITI TANKERS", True),
    ("Looks Like North Korea Is Building a 'Christmas Gift' for the U.S. at its Site", True),
    ("Raytheon Missile Systems to cut 500 jobs", False),
    ("Navy sends two frigates to the Gulf", False),
    ("Missile", False),  # one word: nothing to tell title case by
])
def test_capitalised_headlines(headline: str, expected: bool) -> None:
    assert capitalised(headline) is expected


def test_a_goodwill_visit_is_a_ceremony_not_a_show_of_force(tagger: Tagger) -> None:
    goodwill = ("A Chinese navy training ship carrying 200 cadets arrived in Lagos on a five-day "
                "goodwill visit, the embassy said.")
    show_of_force = ("Three Chinese warships arrived in Lagos for a port call as Beijing expands "
                     "its naval presence off West Africa, the navy said.")
    assert "naval_deployment" in tag_names(tagger, "Embassy notes", show_of_force)
    assert score(tagger, "naval_deployment", "Embassy notes", goodwill) == 0.0
    # The same warships on a goodwill visit (the sentence above holds no deployment evidence
    # of its own, so only this case shows the sentence rule).
    warships_on_goodwill = ("Three Chinese warships arrived in Lagos for a port call on a "
                            "five-day goodwill visit, the navy said.")
    assert score(tagger, "naval_deployment", "Embassy notes", warships_on_goodwill) == 0.0
    assert "naval_deployment" not in tag_names(
        tagger, "Chinese navy training ship on goodwill visit",
        "A Chinese navy ship arrived in Lagos, the embassy said. It will stay five days.")
