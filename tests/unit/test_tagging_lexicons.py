"""The lexicons cover the topics as the guidelines define them, in the wording of many countries
and eras, and their new entries keep out of the other senses. Each case is a sentence written for
the test; the evidence of quality is benchmarks/tagging_real.py."""

from __future__ import annotations

import pytest

from newsflow.core.tagging import Tagger
from newsflow.taxonomy_files import load_taxonomy
from tests.helpers import tag_names


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger(load_taxonomy())


@pytest.mark.parametrize(("title", "body"), [
    ("Pakistan tests Shaheen-III", "Pakistan's army said it successfully test-fired a "
     "Shaheen-III, capable of reaching 2,750 km, from a site in the south."),
    ("China parades DF-41s", "China showed 16 DF-41 launchers in the parade, the largest display "
     "of its nuclear forces in years, state television said."),
    ("Kyiv gets more HIMARS", "The United States will send more HIMARS launchers and GMLRS rounds "
     "to Ukraine's armed forces, the Pentagon said."),
    ("Japan drops Aegis Ashore", "Japan scrapped plans for two Aegis Ashore sites, the defence "
     "ministry said."),
    ("North Korea fires SLBM", "North Korea fired an SLBM from a submarine off Sinpo early on "
     "Tuesday, the Joint Chiefs of Staff said."),
    ("Russia moves Bulava to the north", "Russia's new submarines will carry the Bulava, the navy "
     "said, as the military rearms its forces in the Arctic."),
    ("Russia deploys S-400", "Russia deployed S-400 units to the border, the defence ministry "
     "said."),
    ("Air defences down drones", "Pantsir and S-400 units shot down the attacking drones over the "
     "region overnight, the defence ministry said."),
])
def test_missile_systems_of_many_countries_are_missiles(tagger: Tagger, title: str,
                                                        body: str) -> None:
    assert "missiles" in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Sisi meets investors", "President Abdel Fattah el-Sisi told investors the army would "
     "support growth; military firms will open to private capital."),
    ("Dongfeng Motor profit rises", "Dongfeng Motor said profit rose 10 percent as car sales "
     "grew; it also supplies trucks to the military."),
    ("Army hands out KN-95 masks", "The military handed out a million KN-95 masks to hospitals, "
     "the defence ministry said."),
    ("Topol dies at 87", "Chaim Topol, who played Tevye, has died; he served in the army "
     "before his film career."),
])
def test_a_system_name_in_another_sense_is_not_missiles(tagger: Tagger, title: str,
                                                        body: str) -> None:
    assert "missiles" not in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("EU adopts measures against Belarus officials", "The Council adopted restrictive measures "
     "against 20 Belarusian officials over the crackdown on protesters."),
    ("Chipmakers added to blacklist", "The Commerce Department added 36 Chinese companies to its "
     "entity list, barring US suppliers from selling to them without a licence."),
    ("Treasury acts on oligarchs", "The Treasury froze the U.S. assets of five Russian oligarchs "
     "close to the Kremlin on Friday."),
    ("Exports to Iran blocked", "Germany's export controls against Iran were widened on Monday "
     "to cover drone parts, the economy ministry said."),
    ("U.S. widens maximum pressure campaign on Iran", "The administration added oil traders and "
     "shippers on Monday, officials said."),
    ("Treasury designates Iranian banks", "The Treasury on Thursday designated three Iranian "
     "banks for financing militias, officials said."),
    ("Bloc eases measures", "The bloc relaxed the existing sanctions last week, diplomats "
     "said."),
])
def test_sanctions_in_the_wording_of_blocs_and_agencies(tagger: Tagger, title: str,
                                                        body: str) -> None:
    assert "sanctions" in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Bars close again", "The government extended restrictive measures on bars and restaurants "
     "against the virus as the pandemic spread."),
    ("India curbs rice exports", "India extended its export curbs on rice to keep domestic "
     "prices down, the food ministry said."),
])
def test_restrictive_measures_and_export_curbs_in_other_senses_are_not_sanctions(
        tagger: Tagger, title: str, body: str) -> None:
    assert "sanctions" not in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Freedom of navigation", "The U.S. carried out a freedom of navigation operation near the "
     "Paracel Islands on Tuesday, officials said."),
    ("Strike group heads east", "The Nimitz strike group left San Diego for the western "
     "Pacific, the navy said on Monday."),
    ("Coast guard blockades rebel island", "The coast guard began a blockade of the rebel-held "
     "island on Monday, turning back two cargo ships."),
    ("China holds drills at sea", "China's military held live-fire drills at sea off Fujian, "
     "sending dozens of warplanes and ships around the island."),
    ("Naval clash in the strait", "A naval clash near the disputed islands left two sailors "
     "wounded, the ministry said."),
    ("Coast guard rams supply boat", "The Chinese coast guard rammed a Philippine supply boat "
     "near Second Thomas Shoal on Sunday."),
    # Each word of a phrase is a slot: "Black Sea|Seventh Fleet" would only ever have matched
    # "Black ... Fleet".
    ("Seventh Fleet on the move", "The Seventh Fleet moved two ships toward the region on "
     "Monday, officials said."),
    ("Flotilla moves south", "The Caspian Flotilla moved ten ships south on Monday, the defence "
     "ministry said."),
])
def test_naval_operations_named_in_many_ways_are_naval_deployment(tagger: Tagger, title: str,
                                                                  body: str) -> None:
    assert "naval_deployment" in tag_names(tagger, title, body)


@pytest.mark.parametrize(("title", "body"), [
    ("Fishermen block port", "Fishermen blockaded the port of Boulogne with their trawlers on "
     "Monday in a protest over quotas at sea."),
    ("Dockers vote to walk out", "A strike group of dockers at the port voted to walk out over "
     "pay on Monday, the union said."),
    ("Oil firm drills off Guyana", "The Norwegian firm began drilling at sea off Guyana, in "
     "waters that Venezuela's military claims."),
    ("Coast guard searches for fishermen", "The coast guard searched for four missing fishermen "
     "after their boat capsized near the disputed islands."),
    ("Cruise ship calls at Tallinn", "The cruise ship made a port call at Tallinn with 3,000 "
     "passengers aboard on its Baltic tour."),
])
def test_other_blockades_strike_groups_drilling_and_port_calls_are_not_naval(
        tagger: Tagger, title: str, body: str) -> None:
    assert "naval_deployment" not in tag_names(tagger, title, body)


def test_a_system_named_in_an_all_capitals_wire_headline_is_missiles(tagger: Tagger) -> None:
    # Wire headlines are in capitals; names with other senses are matched by their case.
    body = "The administration notified Congress of the sale on Tuesday, officials said."
    assert "missiles" in tag_names(tagger, "U.S. TO SELL STINGER MISSILES TO CHAD", body)
    assert "missiles" not in tag_names(tagger, "U.S. TO SELL STINGER BOATS TO CHAD", body)


def test_arms_control_and_export_embargo_names_of_the_1980s(tagger: Tagger) -> None:
    assert "missiles" in tag_names(tagger, "Allies back zero option", "NATO ministers backed the "
                               "zero option for Europe on Thursday, diplomats said.")
    assert "sanctions" in tag_names(tagger, "Firm broke COCOM rules", "The firm sold milling "
                                "machines to the Soviet Union in breach of COCOM rules, the "
                                "government said.")


@pytest.mark.parametrize(("tag_name", "title", "body", "evidence"), [
    ("sanctions", "Exporters brace", "New US sanctions on chip exports took effect on Monday, "
     "the Commerce Department said.", "US sanctions"),
    ("sanctions", "Steel makers brace", "EU tariffs on Ruritanian steel will double from "
     "January in the dispute over the broken pact, Brussels said.", "EU tariffs"),
    ("naval_deployment", "Carrier heads for the Gulf", "The US Navy sent a carrier group to the "
     "Gulf on Friday, officials said.", "US Navy"),
])
def test_acronyms_kept_in_case_among_alternatives_are_evidence(
        tagger: Tagger, tag_name: str, title: str, body: str, evidence: str) -> None:
    # "economic|...|=US|=EU sanction~", "...|=EC|=EU tariff~", "Royal|=US|=U.S.|... navy": the
    # "=" inside an alternative once stood for a literal "=", so these never matched.
    texts = [e.text for t in tagger.tag(title, body) if t.name == tag_name for e in t.evidence]
    assert evidence in texts


def test_the_pronoun_us_is_not_the_united_states(tagger: Tagger) -> None:
    body = ("They told us sanctions would follow if the talks failed, the minister said. "
            "Sailors showed us navy ships in the harbour.")
    texts = [hit.evidence.text for topic in tagger.explain("Talks", body) for hit in topic.hits]
    assert "sanctions" in texts  # the word still matches alone
    assert not any(text.startswith("us ") for text in texts)
