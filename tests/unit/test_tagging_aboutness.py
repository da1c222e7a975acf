"""Aboutness, not keyword presence: the behaviours behind the real-news figures, each on a
short text written for the test (the evidence of quality is benchmarks/tagging_real.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from newsflow.config import Settings
from newsflow.core.pipeline import Origin
from newsflow.core.tagging import Field, Tagger
from newsflow.pipeline_setup import build_pipeline
from newsflow.taxonomy_files import load_taxonomy
from tests.helpers import tag_names

pytestmark = pytest.mark.clock

FILLER = ("The council debated the municipal budget for the coming year, with members arguing "
          "over road repairs, library hours and the cost of new street lighting in the centre. ")


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_taxonomy())


def score(tagger: Tagger, topic: str, title: str, body: str) -> float:
    return next(e.score for e in tagger.explain(title, body) if e.topic == topic)


def test_the_same_sentence_counts_more_in_the_lead_than_as_a_late_passing_mention(
        tagger: Tagger) -> None:
    mention = "Ministers also recalled the missile strike on the tanker convoy last spring. "
    lead = mention + FILLER * 6
    late = FILLER * 6 + mention + FILLER
    assert score(tagger, "missiles", "Council budget", lead) > score(
        tagger, "missiles", "Council budget", late)
    assert "missiles" not in tag_names(tagger, "Council budget", late)


def test_a_thread_across_sentences_counts_more_than_one_sentence(tagger: Tagger) -> None:
    one = FILLER * 3 + "The government imposed sanctions on the regime's banks. " + FILLER * 3
    thread = (FILLER * 3 + "The government imposed sanctions on the regime's banks. "
              "The sanctions freeze assets of three state banks. "
              "Officials said sanctions on oil exports would follow next month. " + FILLER * 3)
    assert score(tagger, "sanctions", "Budget", thread) > score(tagger, "sanctions", "Budget", one)


def test_defence_business_is_not_a_deployment(tagger: Tagger) -> None:
    contract = ("The Navy awarded the shipyard a contract worth 1.2 billion dollars to build two "
                "destroyers and three frigates for the fleet, the company said on Tuesday.")
    sailing = ("The Navy sent two destroyers and three frigates to the strait on Tuesday to "
               "escort tankers through the contested waters, officials said.")
    assert "naval_deployment" not in tag_names(tagger, "Shipbuilder wins order", contract)
    assert "naval_deployment" in tag_names(tagger, "Warships sail for the strait", sailing)


@pytest.mark.parametrize(("title", "body"), [
    ("U.S. Sanctions Hit Chip Exports",
     "Washington said on Friday it would keep the measures in force until the pact is honoured."),
    ("Washington to keep tariffs",
     "The United States will impose retaliatory tariffs on Japanese electronics from next week "
     "after talks on the chip pact failed, the White House said."),
    ("Talks resume",
     "The European Union agreed on Monday to begin lifting the sanctions it imposed on the "
     "country's banks, diplomats said."),
])
def test_sanctions_wording_of_other_eras_and_title_case(tagger: Tagger, title: str,
                                                         body: str) -> None:
    assert "sanctions" in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    # The base form of the verb, in a headline.
    ("U.S. may retaliate against Japan over airport",
     "Washington may take action against Tokyo if American firms stay shut out of the new "
     "airport project, the Commerce Secretary said on Monday."),
    # Tariffs aimed at one country's goods in a dispute, without the word "sanctions".
    ("White House lists tariffs on Japanese goods",
     "The White House listed the Japanese goods that will face 100 pct tariffs from Friday, "
     "after Tokyo failed to honour the semiconductor pact."),
])
def test_punishment_by_tariffs_in_a_dispute_is_sanctions(tagger: Tagger, title: str,
                                                        body: str) -> None:
    assert "sanctions" in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Duties set", "The Commerce Department set anti-dumping duties on chemicals from South Korea "
                   "after a dispute brought by a domestic producer."),
    ("Tariff cuts", "Taiwan will cut tariffs on 50 American goods to ease the trade dispute."),
    # The base form of a word listed with its inflections ("reduce~"), not a stem ("reduc~").
    ("Tariff cuts", "Taiwan will reduce import tariffs on 1,700 American products to ease the "
                    "trade dispute."),
])
def test_trade_remedies_and_tariff_cuts_are_not_sanctions(tagger: Tagger, title: str,
                                                         body: str) -> None:
    assert "sanctions" not in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Arms talks", "The superpowers discussed cutting their medium-range nuclear missiles in "
                   "Europe, officials said."),
    ("Gulf warning", "Iran has deployed anti-shipping missiles near the strait, the Pentagon "
                     "said."),
    ("Geneva talks", "Negotiators tabled a draft treaty on intermediate-range nuclear forces, "
                     "the first arms accord in a decade."),
])
def test_older_missile_wording_is_missiles(tagger: Tagger, title: str, body: str) -> None:
    assert "missiles" in tag_names(tagger, title, body)


def test_explanations_carry_the_aboutness_measures(tagger: Tagger) -> None:
    body = ("The navy sent two frigates to the strait on Monday. Officials gave no reason. "
            "The frigates will stay for a week, the navy said.")
    why = next(e for e in tagger.explain("Frigates sail for the strait", body)
               if e.topic == "naval_deployment")
    features = why.features
    assert set(features) == {"title", "lead", "rest", "spread", "terms", "first", "length"}
    assert features["title"] > 0 and features["lead"] > 0 and features["rest"] > 0
    assert features["first"] == body.index("navy") / len(body)
    assert features["spread"] == 2 / 3  # two of the three sentences carry evidence
    nothing = next(e for e in tagger.explain("Council budget", "Road repairs were approved.")
                   if e.topic == "naval_deployment")
    assert nothing.features["first"] == 1.0 and nothing.features["terms"] == 0


def test_a_noun_compound_is_not_the_approve_sense(tagger: Tagger) -> None:
    assert "sanctions" in tag_names(tagger, "JAPAN ANGERED BY U.S. SANCTION PLANS",
                                "Japan's chip makers reacted angrily to the United States plan "
                                "to impose sanctions on their exports.")
    assert "sanctions" not in tag_names(tagger, "Board news", "The board voted to sanction the "
                                    "plans for a new wing of the hospital.")


def test_escorting_tankers_is_naval_activity(tagger: Tagger) -> None:
    assert "naval_deployment" in tag_names(
        tagger, "Washington to protect Gulf shipping",
        "The United States will protect eleven Kuwaiti oil tankers in the Gulf, sending "
        "warships to escort them through the Strait of Hormuz from next month.")


def test_a_non_english_article_is_never_tagged() -> None:
    pipeline = build_pipeline(Settings())
    raw = {"url": "https://presse.example/monde/1", "content_type": "text/plain",
           "source": {"id": "presse", "name": "Presse", "kind": "manual"},
           "title": "Nouvelles sanctions et missiles",
           "body": "L'Union européenne a imposé mardi de nouvelles sanctions économiques contre "
                   "la Russie. Des missiles balistiques ont été tirés, et la marine a déployé "
                   "des navires de guerre en mer Noire, selon le ministère de la défense."}
    english = dict(raw, body="The European Union imposed new economic sanctions on Russia on "
                             "Tuesday after ballistic missiles were fired at ports, officials said.",
                   title="EU imposes new sanctions on Russia")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    french = pipeline.prepare(raw, Origin("t", 0, 1), now).article
    assert french["language"] == "fr" and french["tags"] == []
    assert pipeline.prepare(english, Origin("t", 0, 2), now).article["tags"]
    # A headline alone (a video page): too short a body to tell, so the headline tells.
    headline = dict(raw, title="Iran : des sanctions américaines contre le programme de "
                               "missiles", body="Vidéo")
    alone = pipeline.prepare(headline, Origin("t", 0, 3), now).article
    assert alone["language"] == "fr" and alone["tags"] == []


@pytest.mark.parametrize(("title", "body", "tag"), [
    ("North Korea fires ballistic missiles into sea", "Pyongyang fires missiles.", "missiles"),
    ("Russia faces new EU sanctions over Ukraine", "Russia faces new EU sanctions.",
     "sanctions"),
    ("Navy frigate patrols Baltic", "The navy deployed a frigate to patrol the Baltic.",
     "naval_deployment"),
])
def test_a_short_english_brief_is_tagged(title: str, body: str, tag: str) -> None:
    # On a few words alone the language model names Tagalog, French or Nigerian Pidgin, with
    # well under half the probability: a brief is judged with its headline, and a weak verdict
    # is no verdict.
    pipeline = build_pipeline(Settings())
    raw = {"url": "https://wire.example/brief", "content_type": "text/plain",
           "source": {"id": "wire", "name": "Wire", "kind": "manual"},
           "title": title, "body": body}
    article = pipeline.prepare(raw, Origin("t", 0, 1), datetime(2030, 1, 1, tzinfo=UTC)).article
    assert article["language"] in ("en", None)
    assert tag in [t["name"] for t in article["tags"]]


def test_a_short_foreign_brief_is_not_tagged() -> None:
    pipeline = build_pipeline(Settings())
    raw = {"url": "https://presse.example/breve", "content_type": "text/plain",
           "source": {"id": "presse", "name": "Presse", "kind": "manual"},
           "title": "Nouvelles sanctions", "body": "Sanctions contre la Russie."}
    article = pipeline.prepare(raw, Origin("t", 0, 1), datetime(2030, 1, 1, tzinfo=UTC)).article
    assert (article["language"], article["tags"]) == ("fr", [])


def test_a_defence_industry_headline_damps_naval_evidence_in_the_body(tagger: Tagger) -> None:
    body = ("The navy will base the new frigate at the southern port, where it will patrol "
            "the strait from next year.")
    deployment = score(tagger, "naval_deployment", "Frigate to patrol the strait", body)
    business = score(tagger, "naval_deployment", "Yard wins frigate contract", body)
    assert business < 0.5 * deployment
    assert "naval_deployment" not in tag_names(tagger, "Yard wins frigate contract", body)


INDUSTRY_FOLLOW_UP = (" Officials said the vessels would enter service later in the decade. "
                      "Lawmakers have criticised the project's cost, and the ministry will "
                      "report to parliament next month.")


@pytest.mark.parametrize(("headline", "lead"), [
    ("Hanwha Ocean wins order for three submarines from Poland", "The shipbuilder said on "
     "Tuesday it had won an order to build three submarines for the Polish navy. Its shares "
     "rose 5 percent."),
    ("Japan unveils new class of destroyers", "Japan's defence ministry said on Tuesday it "
     "would build a new class of destroyers for the navy, equipped with advanced radar."),
])
def test_orders_and_new_classes_in_the_headline_are_the_industry(
        tagger: Tagger, headline: str, lead: str) -> None:
    # The guidelines' industry cases as headlines put them: each was tagged before these
    # headline words; the same text under a deployment headline still is. (A "programme" is
    # not one of them: the seeds' "Missile Programme" headlines head a carrier deployment.)
    body = lead + INDUSTRY_FOLLOW_UP
    assert "naval_deployment" not in tag_names(tagger, headline, body)
    assert "naval_deployment" in tag_names(tagger, "Navy sends submarines and destroyers to "
                                           "patrol the strait", body)


@pytest.mark.parametrize(("headline", "body"), [
    # "Commission" is not "commissions": the European Commission backs naval missions.
    ("EU Commission backs naval mission in Red Sea", "The European Commission backed a naval "
     "mission on Monday, sending three frigates to escort merchant ships through the strait."),
    # A deployment delayed is still a deployment.
    ("Carrier deployment delayed by repairs", "The aircraft carrier's deployment to the "
     "Western Pacific was delayed by two weeks, the navy said; the ship will sail in March to "
     "join exercises in the South China Sea."),
])
def test_industry_words_do_not_take_deployments_with_them(tagger: Tagger, headline: str,
                                                          body: str) -> None:
    assert "naval_deployment" in tag_names(tagger, headline, body)


def test_the_navy_as_an_institution_is_not_a_deployment(tagger: Tagger) -> None:
    assert "naval_deployment" not in tag_names(
        tagger, "Navy secretary resigns over SEAL case",
        "The Navy secretary resigned on Sunday after a dispute over a Navy SEAL accused of war "
        "crimes. The Navy said a review board would meet next month.")


@pytest.mark.parametrize(("title", "body"), [
    ("Court upholds travel ban", "An appeals court upheld the president's travel ban on "
     "visitors from six countries, a setback for refugee groups."),
    ("Senators boycott committee vote", "Opposition senators boycotted the committee vote on "
     "the nominee, and the panel approved her 12-0."),
    ("Tehran vows retaliation for killing", "Iran promised harsh retaliation against the United States "
     "after the general was killed in a drone strike."),
    ("IRANIAN PREMIER REITERATES WARNING OF RETALIATION", "Iran's premier said his country "
     "would retaliate for U.S. Navy attacks on its Gulf oil platforms. \"We will retaliate "
     "properly for this aggression,\" he told a news conference."),
    ("Judge orders release, citing retaliation", "A federal judge ordered his release after "
     "finding that officials had returned him to prison in retaliation for his plans to write a "
     "memoir."),
])
def test_immigration_bans_walkouts_and_military_revenge_are_not_sanctions(
        tagger: Tagger, title: str, body: str) -> None:
    assert "sanctions" not in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Talks collapse", "The summit ended without a deal because the visitors wanted all "
     "sanctions to be lifted at once, officials said."),
    ("Washington lists Pyongyang", "The United States put North Korea back on its list of "
     "state sponsors of terrorism to raise pressure on the government."),
])
def test_sanctions_in_passive_and_listing_wording(tagger: Tagger, title: str, body: str) -> None:
    assert "sanctions" in tag_names(tagger, title, body)


def test_a_dispute_headline_makes_punitive_wording_in_the_body_count_more(tagger: Tagger) -> None:
    body = ("Officials met on Monday to discuss the semiconductor market. Exporters said prices "
            "were stable. The ministry said it would answer any retaliatory tariffs on its "
            "electronics. Talks resume next week.")
    assert score(tagger, "sanctions", "Chip row deepens", body) > score(
        tagger, "sanctions", "Officials meet on chips", body)


def test_rockets_fired_at_a_base_are_missiles_but_space_rockets_are_not(tagger: Tagger) -> None:
    attack = ("Militants fired rockets at the air base overnight, the army said. The rocket "
              "barrage wounded two soldiers.")
    assert "missiles" in tag_names(tagger, "Rockets hit air base", attack)
    space = ("The space agency launched two rockets carrying weather satellites into orbit. "
             "The rocket launches were the first of the year.")
    assert "missiles" not in tag_names(tagger, "Rockets carry satellites", space)


def test_an_abbreviation_does_not_end_the_sentence_a_context_rule_looks_in() -> None:
    # Wire copy capitalises after "U.S." ("U.S. Kills General"): the revenge words after it
    # are still in the headline's sentence, so the retaliation is military, not a sanction.
    field = Field("body", "Iran vowed retaliation after the U.S. Killed its general. Mr. Smith "
                  "said on Jan. 5 that John F. Kennedy spoke. Talks ended.", "")
    assert [field.text[s:e] for s, e in field.sentences] == [
        "Iran vowed retaliation after the U.S. Killed its general.",
        "Mr. Smith said on Jan. 5 that John F. Kennedy spoke.", "Talks ended."]
    assert "sanctions" not in tag_names(Tagger(load_taxonomy()),
                                    "Iran Promises Retaliation After U.S. Kills General",
                                    "Iranian leaders called for revenge on Friday.")


@pytest.mark.parametrize(("title", "body"), [
    ("Leaders meet after attack", "The president spoke on Wednesday after a barrage of missiles "
     "fired at the troops' base killed no one, and Tehran signalled the end of its revenge."),
    ("Tokyo on alert", "Japan must prepare for the possible launch of a nuclear-armed missile over "
     "its territory if the North carries out its threat, the defence minister said."),
    ("Contractor wins work", "The unit won contracts worth 1.9 mln dlrs from the Air Force for "
     "flight tests of the Peacekeeper missile, the company said."),
])
def test_a_missile_fired_launched_or_named_by_its_system_is_missiles(
        tagger: Tagger, title: str, body: str) -> None:
    assert "missiles" in tag_names(tagger, title, body)


def test_a_rocket_launch_in_a_space_story_is_not_missiles(tagger: Tagger) -> None:
    body = ("The country is preparing the first launch of its new rocket, part of what it calls a "
            "purely peaceful space program; officials said it could be converted into a weapon.")
    assert "missiles" not in tag_names(tagger, "Country prepares to launch intercontinental rocket",
                                   body)


def test_trade_measures_named_as_punishment_are_sanctions(tagger: Tagger) -> None:
    body = ("The president made punishing China official policy on Thursday, imposing tariffs "
            "on 60 billion dollars of Chinese goods, officials said.")
    assert "sanctions" in tag_names(tagger, "Beijing says it is ready for a fight", body)
    assert "sanctions" not in tag_names(tagger, "Coach vows to punish mistakes", "The coach said he "
                                    "would punish every mistake in training, the club said.")


def test_an_embargo_by_trade_unions_is_industrial_action_not_sanctions(tagger: Tagger) -> None:
    body = ("The ship berthed today to load wheat for Fiji after Australian port unions partly "
            "lifted a trade embargo, shipping sources said.")
    assert "sanctions" not in tag_names(tagger, "Ship prepares to load wheat", body)
    body = body.replace("Australian port unions", "the Australian government")
    assert "sanctions" in tag_names(tagger, "Ship prepares to load wheat", body)


def test_a_topic_sets_how_much_a_one_sentence_mention_after_the_lead_counts(
        tagger: Tagger) -> None:
    bundled = {t.name: t for t in tagger.topics}
    assert bundled["sanctions"].mention_factor < bundled["missiles"].mention_factor
    body = FILLER * 3 + "The government imposed sanctions on the regime's banks. " + FILLER * 3
    weaker = Tagger(tuple(dataclasses.replace(t, mention_factor=0.4) for t in tagger.topics))
    assert score(weaker, "sanctions", "Budget", body) < score(tagger, "sanctions", "Budget", body)


def test_uss_the_steel_unit_is_not_a_warship(tagger: Tagger) -> None:
    assert "naval_deployment" not in tag_names(
        tagger, "USX <X> USS UNIT RAISES PRICES", "The USS Division of USX Corp said it would "
        "raise prices of flat-rolled steel products by 3 pct from July.")
    assert "naval_deployment" in tag_names(
        tagger, "USS Boxer destroys drone", "The USS Boxer, an amphibious assault ship, destroyed "
        "a drone that flew close to it in the Strait of Hormuz, the Navy said.")


def test_a_warship_retired_in_a_ceremony_is_not_a_deployment(tagger: Tagger) -> None:
    body = ("The navy's first submarine was retired after 34 years of service. A ceremony was held "
            "at the naval port, where all warships moored there blew their horns. The submarine "
            "patrolled the coast and took part in exercises at sea with allied navies.")
    assert "naval_deployment" not in tag_names(tagger, "First submarine decommissioned", body)
    assert "naval_deployment" in tag_names(tagger, "Submarine on patrol", body)


def test_retaliation_next_to_a_trade_war_is_not_military_revenge(tagger: Tagger) -> None:
    body = ("British authorities said they are seeking ways to retaliate against Japanese trading "
            "practices without unleashing a damaging trade war.")
    assert "sanctions" in tag_names(tagger, "Toshiba could feel U.K. trade anger", body)
    assert "sanctions" not in tag_names(tagger, "Toshiba could feel U.K. trade anger",
                                    body.replace("trade war", "war at sea"))


def test_a_tariff_threatened_unless_a_country_complies_is_sanctions(tagger: Tagger) -> None:
    body = ("The president threatened to impose a 5% tariff on Mexican goods next month if Mexico "
            "does not do more to stop migrants crossing the border, officials said.")
    assert "sanctions" in tag_names(tagger, "Senators weigh the president's plan", body)
    gatt = ("The association called the policy illegal under the General Agreement on Tariffs and "
            "Trade and would file a complaint if the European Community does not act.")
    assert "sanctions" not in tag_names(tagger, "Association attacks oilseed policy", gatt)


def test_a_states_nuclear_and_missile_programs_named_in_a_diplomacy_lead_are_a_mention(
        tagger: Tagger) -> None:
    lead = ("The president warned that a major conflict could result from the standoff over "
            "its nuclear and missile programs, but said he hoped diplomacy would prevail.")
    assert "missiles" not in tag_names(tagger, "President warns of conflict with Pyongyang", lead)
    tests = lead.replace("its nuclear and missile programs", "its latest missile tests")
    assert "missiles" in tag_names(tagger, "President warns of conflict with Pyongyang", tests)


DEBATE = "Candidates trade blows in final debate"
DEBATE_THEN_STRIKE = ("The two candidates clashed over taxes and health care in the last debate "
                      "before the vote on Tuesday. The debate came days after a ballistic missile "
                      "was fired at a border town.")


def test_a_short_leads_second_sentence_is_background_not_the_subject(tagger: Tagger) -> None:
    # The first sentence states what the article is about; the strike behind the debate story
    # is a mention, as it would be later in the body.
    assert {t.lead_sentences for t in tagger.topics} == {1}
    assert "missiles" not in tag_names(tagger, DEBATE, DEBATE_THEN_STRIKE)
    strike_first = ("A ballistic missile was fired at a border town on Tuesday, days before the "
                    "vote. The two candidates clashed over taxes and health care in the last "
                    "debate.")
    assert "missiles" in tag_names(tagger, DEBATE, strike_first)


def test_a_topic_sets_how_many_sentences_its_lead_has(tagger: Tagger) -> None:
    two = Tagger(tuple(dataclasses.replace(t, lead_sentences=2) for t in tagger.topics))
    assert score(two, "missiles", DEBATE, DEBATE_THEN_STRIKE) > score(
        tagger, "missiles", DEBATE, DEBATE_THEN_STRIKE)
    assert "missiles" in tag_names(two, DEBATE, DEBATE_THEN_STRIKE)
