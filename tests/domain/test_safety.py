"""Truth table of the safety screen (SPEC §6), tested like a drug-interaction checker:
every rule, the combinations, and the cases that must raise nothing (false alarms teach
practitioners to click through warnings)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formulary.domain.safety import (
    ALLERGY_ASSESSMENTS,
    ALLERGY_STATUSES,
    BLOCKING_CONDITIONS,
    CONDITION_LABELS,
    CONDITIONS,
    KINDS,
    WARNING_CONDITIONS,
    CrossReactivity,
    Finding,
    PatientScreen,
    ScreenAllergy,
    ScreenIngredient,
    ScreenPatient,
    ScreenResult,
    SEVERITIES,
    free_text_names,
    group_key,
    rank_formulations,
    screen,
    verdict_of,
)

# --------------------------------------------------------------------------- catalogue
# A mesotherapy clinic's shelf. Groups are the substance's class and its excipients.

AMIDE = "amide local anesthetic"
ESTER = "ester local anesthetic"

LIDO_PF = ScreenIngredient(1, "Lidocaine 2% (preservative-free)", frozenset({AMIDE}), frozenset())
LIDO_MD = ScreenIngredient(2, "Lidocaine 2% (multi-dose)",  # preserved with methylparaben
                           frozenset({AMIDE, "parabens"}), frozenset())
PROCAINE = ScreenIngredient(3, "Procaine 1%", frozenset({ESTER}), frozenset())
PROCAINE_MD = ScreenIngredient(4, "Procaine 2% (multi-dose)",  # with methylparaben
                               frozenset({ESTER, "parabens"}), frozenset())
PCDC = ScreenIngredient(5, "Phosphatidylcholine 5% / deoxycholate 4.75%",  # soy lecithin
                        frozenset({"soy", "benzyl alcohol", "deoxycholate"}), frozenset())
CYANO = ScreenIngredient(6, "Cyanocobalamin 1 mg/mL", frozenset({"cobalamins"}), frozenset())
HYAL = ScreenIngredient(7, "Hyaluronidase (ovine) 150 U", frozenset({"ovine proteins"}),
                        frozenset())
BIOTIN = ScreenIngredient(8, "Biotin 5 mg/mL", frozenset(), frozenset())
DEXPANTH = ScreenIngredient(9, "Dexpanthenol 250 mg/mL", frozenset(), frozenset())
MINOX = ScreenIngredient(10, "Minoxidil 2%", frozenset({"propylene glycol"}),
                         frozenset({"pregnant", "breastfeeding"}))
DUTA = ScreenIngredient(11, "Dutasteride 0.05%", frozenset(),
                        frozenset({"pregnant", "breastfeeding"}))
BCOMPLEX = ScreenIngredient(12, "Vitamin B complex",  # sodium metabisulfite, benzyl alcohol 2%
                            frozenset({"sulfites", "benzyl alcohol"}), frozenset())
BAC_SALINE = ScreenIngredient(13, "Bacteriostatic sodium chloride 0.9%",
                              frozenset({"benzyl alcohol"}), frozenset())

CROSS = CrossReactivity([
    # Esters are hydrolysed to PABA, the usual sensitiser in ester-anaesthetic allergy.
    ("ester local anesthetic", "PABA"),
    # Methylparaben is structurally close to PABA: the reason a preserved amide vial is
    # avoided in an ester-allergic patient. Spelt oddly on purpose: names compare
    # case-insensitively with spacing collapsed.
    ("Ester  Local Anesthetic", "PARABENS"),
    # PABA-sensitive patients may react to methylparaben (para-substituted benzoates);
    # weaker evidence, hence a warning only, which is all a pair ever gives.
    ("PABA", "parabens"),
    # Cyanocobalamin carries cobalt; reactions to B12 in cobalt-allergic patients are reported.
    ("cobalt", "cobalamins"),
    # Legume proteins: soy with peanut, soy with other legumes.
    ("soy", "peanut"),
    ("soy", "legumes"),
    # Deliberately absent: amide-ester local anaesthetics (no cross-reaction; lidocaine is
    # the alternative in ester allergy), sulfites-sulfonamide antibiotics (a myth),
    # nickel-cobalamins, peanut-legumes.
])


# --------------------------------------------------------------------------- builders

def ing_allergy(aid, ing, severity="moderate", reaction=None, status="active"):
    return ScreenAllergy(aid, status, severity, reaction, ingredient_id=ing.id,
                         ingredient_name=ing.name, ingredient_groups=ing.groups)


def group_allergy(aid, group, severity="moderate", reaction=None, status="active"):
    return ScreenAllergy(aid, status, severity, reaction, group=group)


def text_allergy(aid, text, severity="moderate", reaction=None, status="active"):
    return ScreenAllergy(aid, status, severity, reaction, substance=text)


def patient(*allergies, status=None, conditions=()):
    if status is None:
        status = "known" if allergies else "none_known"
    return ScreenPatient(status, tuple(allergies), frozenset(conditions))


def B(kind, ing=None, aid=None):
    return ("block", kind, ing.id if ing else None, aid)


def W(kind, ing=None, aid=None):
    return ("warn", kind, ing.id if ing else None, aid)


@dataclass(frozen=True)
class Case:
    id: str
    why: str
    patient: ScreenPatient
    cocktail: tuple
    verdict: str
    findings: tuple  # (level, kind, ingredient id, allergy id), as a multiset


def case(id, why, patient, cocktail, verdict, *findings):
    return Case(id, why, patient, tuple(cocktail), verdict, tuple(findings))


# --------------------------------------------------------------------------- truth table

CASES = [
    # ---- nothing to say ---------------------------------------------------------------
    case("assessed_no_allergy_no_condition",
         "Allergies assessed (none known), no condition, plain vitamins: nothing to flag.",
         patient(), [BIOTIN, DEXPANTH], "safe"),
    case("empty_cocktail_healthy_patient",
         "No ingredient and nothing about the patient: nothing to flag.",
         patient(), [], "safe"),
    case("known_status_only_inactive_allergy",
         "An inactive allergy no longer counts; the status stays assessed, so no warning.",
         patient(ing_allergy(1, LIDO_MD, "severe", status="inactive"), status="known"),
         [LIDO_MD], "safe"),
    case("refuted_direct_allergy_ignored",
         "A refuted allergy (e.g. a negative challenge test) is not an allergy.",
         patient(ing_allergy(1, LIDO_PF, status="refuted")), [LIDO_PF], "safe"),
    case("refuted_group_allergy_ignored",
         "Refuted paraben allergy: the preserved lidocaine is fine.",
         patient(group_allergy(1, "parabens", status="refuted")), [LIDO_MD], "safe"),
    case("inactive_free_text_ignored",
         "An inactive free-text allergy needs no review.",
         patient(text_allergy(1, "latex", status="inactive")), [BIOTIN], "safe"),

    # ---- allergies_not_assessed ---------------------------------------------------------
    case("unknown_status_warns",
         "Nobody has asked about allergies yet: the practitioner must ask before treating.",
         patient(status="unknown"), [BIOTIN], "caution",
         W("allergies_not_assessed")),
    case("unknown_status_empty_cocktail",
         "Not-assessed is about the patient, so it shows whatever the cocktail.",
         patient(status="unknown"), [], "caution",
         W("allergies_not_assessed")),

    # ---- allergy (direct) ---------------------------------------------------------------
    case("direct_allergy_blocks",
         "The patient reacted to this very product and it is in the cocktail.",
         patient(ing_allergy(1, LIDO_PF, "severe")), [LIDO_PF, BIOTIN], "blocked",
         B("allergy", LIDO_PF, 1)),
    case("direct_allergy_ingredient_without_groups",
         "A direct allergy blocks even when the ingredient has no allergen group.",
         patient(ing_allergy(1, BIOTIN, "mild")), [BIOTIN, DEXPANTH], "blocked",
         B("allergy", BIOTIN, 1)),
    case("direct_allergy_no_extra_group_finding_on_same_ingredient",
         "Allergy to minoxidil 2%: one block on it, not a second one through its own "
         "propylene glycol group.",
         patient(ing_allergy(1, MINOX)), [MINOX, DUTA], "blocked",
         B("allergy", MINOX, 1)),
    case("allergy_to_absent_ingredient_without_groups",
         "Allergy to dexpanthenol, which is not in the cocktail and shares nothing: safe.",
         patient(ing_allergy(1, DEXPANTH)), [BIOTIN], "safe"),

    # ---- allergen_group (group allergy) -------------------------------------------------
    case("paraben_allergy_blocks_preserved_lidocaine",
         "Multi-dose lidocaine is preserved with methylparaben.",
         patient(group_allergy(1, "parabens", "severe", "urticaria")), [LIDO_MD, BIOTIN],
         "blocked", B("allergen_group", LIDO_MD, 1)),
    case("paraben_allergy_spares_preservative_free_lidocaine",
         "Preservative-free lidocaine holds no paraben, and amides do not cross-react "
         "with parabens: the classic safe choice.",
         patient(group_allergy(1, "parabens")), [LIDO_PF], "safe"),
    case("benzyl_alcohol_allergy_blocks_each_product_holding_it",
         "PC/DC and bacteriostatic saline both hold benzyl alcohol; biotin does not.",
         patient(group_allergy(1, "benzyl alcohol")), [PCDC, BAC_SALINE, BIOTIN], "blocked",
         B("allergen_group", PCDC, 1), B("allergen_group", BAC_SALINE, 1)),
    case("group_name_case_and_spacing_ignored",
         "' Benzyl   ALCOHOL ' is the benzyl alcohol group.",
         patient(group_allergy(1, " Benzyl   ALCOHOL ")), [BAC_SALINE], "blocked",
         B("allergen_group", BAC_SALINE, 1)),
    case("amide_allergy_blocks_both_lidocaines_not_procaine",
         "Both lidocaines are amides; procaine is an ester, which does not cross-react.",
         patient(group_allergy(1, AMIDE)), [LIDO_PF, LIDO_MD, PROCAINE], "blocked",
         B("allergen_group", LIDO_PF, 1), B("allergen_group", LIDO_MD, 1)),
    case("ester_allergy_blocks_procaine",
         "Procaine is an ester local anaesthetic.",
         patient(group_allergy(1, "Ester Local  ANESTHETIC")), [PROCAINE], "blocked",
         B("allergen_group", PROCAINE, 1)),
    case("ester_allergy_does_not_flag_preservative_free_lidocaine",
         "SPEC §6: an ester-anaesthetic allergy does not flag lidocaine (an amide).",
         patient(group_allergy(1, ESTER, "severe")), [LIDO_PF], "safe"),
    case("soy_allergy_blocks_phosphatidylcholine",
         "Phosphatidylcholine is made from soy lecithin.",
         patient(group_allergy(1, "soy")), [PCDC], "blocked",
         B("allergen_group", PCDC, 1)),
    case("ovine_protein_allergy_blocks_ovine_hyaluronidase",
         "Ovine hyaluronidase is a sheep protein.",
         patient(group_allergy(1, "ovine proteins", "anaphylaxis")), [HYAL, BIOTIN], "blocked",
         B("allergen_group", HYAL, 1)),
    case("sulfite_allergy_blocks_b_complex",
         "The B complex is stabilised with sodium metabisulfite.",
         patient(group_allergy(1, "sulfites")), [BCOMPLEX, BIOTIN], "blocked",
         B("allergen_group", BCOMPLEX, 1)),
    case("sulfonamide_allergy_does_not_flag_sulfites",
         "'Sulfa' antibiotic allergy and sulfites are unrelated: no pair, no finding.",
         patient(group_allergy(1, "sulfonamide antibiotics")), [BCOMPLEX], "safe"),
    case("propylene_glycol_allergy_blocks_minoxidil",
         "The minoxidil solution holds propylene glycol.",
         patient(group_allergy(1, "propylene glycol")), [MINOX, BIOTIN], "blocked",
         B("allergen_group", MINOX, 1)),
    case("cobalamin_allergy_blocks_cyanocobalamin",
         "A cobalamin allergy is an allergy to cyanocobalamin's own class.",
         patient(group_allergy(1, "cobalamins")), [CYANO], "blocked",
         B("allergen_group", CYANO, 1)),
    case("group_allergy_empty_cocktail",
         "No ingredient, nothing to react to.",
         patient(group_allergy(1, "parabens")), [], "safe"),

    # ---- allergen_group (allergy to another product sharing a group) -------------------
    case("allergy_to_pf_lidocaine_blocks_multidose_lidocaine",
         "The patient reacted to lidocaine itself (the PF vial holds nothing else): the "
         "multi-dose vial is the same amide.",
         patient(ing_allergy(1, LIDO_PF, "severe")), [LIDO_MD], "blocked",
         B("allergen_group", LIDO_MD, 1)),
    case("allergy_to_multidose_lidocaine_blocks_pf_lidocaine",
         "Lidocaine or its paraben may have caused the reaction; lidocaine is a candidate "
         "culprit, so the PF vial blocks too.",
         patient(ing_allergy(1, LIDO_MD)), [LIDO_PF], "blocked",
         B("allergen_group", LIDO_PF, 1)),
    case("allergy_to_bacteriostatic_saline_blocks_benzyl_alcohol_products",
         "Benzyl alcohol is the only candidate culprit in bacteriostatic saline.",
         patient(ing_allergy(1, BAC_SALINE)), [PCDC, BCOMPLEX, BIOTIN], "blocked",
         B("allergen_group", PCDC, 1), B("allergen_group", BCOMPLEX, 1)),
    case("allergy_to_product_in_cocktail_and_to_a_sibling",
         "Direct allergy on the saline itself, group block on PC/DC through benzyl alcohol.",
         patient(ing_allergy(1, BAC_SALINE)), [BAC_SALINE, PCDC], "blocked",
         B("allergy", BAC_SALINE, 1), B("allergen_group", PCDC, 1)),
    case("allergy_to_pcdc_blocks_saline_through_one_of_its_groups",
         "PC/DC has three candidate culprits; benzyl alcohol is one, and the saline holds it.",
         patient(ing_allergy(1, PCDC)), [BAC_SALINE, BIOTIN], "blocked",
         B("allergen_group", BAC_SALINE, 1)),
    case("allergy_to_cyanocobalamin_spares_b_complex_without_b12",
         "This B complex holds no cobalamin and shares no group with cyanocobalamin.",
         patient(ing_allergy(1, CYANO)), [BCOMPLEX], "safe"),
    case("allergy_to_preserved_procaine_blocks_procaine_without_cross_warning",
         "Shares the ester group (block); the ester-paraben cross-reaction would land on "
         "that same blocked group, so no extra warning.",
         patient(ing_allergy(1, PROCAINE_MD)), [PROCAINE], "blocked",
         B("allergen_group", PROCAINE, 1)),
    case("allergy_to_preserved_procaine_blocks_preserved_lidocaine_via_paraben",
         "Shares parabens (block); the amide does not cross-react with anything it holds.",
         patient(ing_allergy(1, PROCAINE_MD)), [LIDO_MD], "blocked",
         B("allergen_group", LIDO_MD, 1)),

    # ---- cross_reactivity ---------------------------------------------------------------
    case("ester_allergy_warns_preserved_lidocaine",
         "Lidocaine is safe, but its methylparaben cross-reacts with ester anaesthetics.",
         patient(group_allergy(1, ESTER)), [LIDO_MD], "caution",
         W("cross_reactivity", LIDO_MD, 1)),
    case("paraben_allergy_warns_procaine",
         "The same pair seen from the other side: cross-reaction is symmetric.",
         patient(group_allergy(1, "parabens")), [PROCAINE], "caution",
         W("cross_reactivity", PROCAINE, 1)),
    case("paba_allergy_warns_procaine",
         "Procaine is hydrolysed to PABA.",
         patient(group_allergy(1, "PABA", "severe")), [PROCAINE, BIOTIN], "caution",
         W("cross_reactivity", PROCAINE, 1)),
    case("paba_allergy_warns_preserved_lidocaine",
         "PABA-parabens pair: the methylparaben in the multi-dose vial.",
         patient(group_allergy(1, "paba")), [LIDO_MD], "caution",
         W("cross_reactivity", LIDO_MD, 1)),
    case("paba_allergy_spares_preservative_free_lidocaine",
         "An amide without preservative holds nothing paired with PABA.",
         patient(group_allergy(1, "PABA")), [LIDO_PF], "safe"),
    case("paba_allergy_two_warnings_on_preserved_procaine",
         "Two distinct cross-reactions on one ingredient: the ester and the paraben.",
         patient(group_allergy(1, "PABA")), [PROCAINE_MD], "caution",
         W("cross_reactivity", PROCAINE_MD, 1), W("cross_reactivity", PROCAINE_MD, 1)),
    case("ester_allergy_block_and_warning_on_preserved_procaine",
         "The ester blocks; its paraben is another group, which cross-reacts: both shown.",
         patient(group_allergy(1, ESTER)), [PROCAINE_MD], "blocked",
         B("allergen_group", PROCAINE_MD, 1), W("cross_reactivity", PROCAINE_MD, 1)),
    case("allergy_to_preserved_lidocaine_warns_procaine",
         "Its paraben is a candidate culprit and cross-reacts with esters; its amide does not.",
         patient(ing_allergy(1, LIDO_MD)), [PROCAINE], "caution",
         W("cross_reactivity", PROCAINE, 1)),
    case("cobalt_allergy_warns_cyanocobalamin",
         "B12 carries cobalt.",
         patient(group_allergy(1, "cobalt")), [CYANO, BIOTIN], "caution",
         W("cross_reactivity", CYANO, 1)),
    case("nickel_allergy_does_not_flag_cyanocobalamin",
         "Nickel is not paired with cobalamins: no alarm.",
         patient(group_allergy(1, "nickel")), [CYANO], "safe"),
    case("peanut_allergy_warns_phosphatidylcholine",
         "Soy and peanut are legumes that may cross-react.",
         patient(group_allergy(1, "Peanut")), [PCDC], "caution",
         W("cross_reactivity", PCDC, 1)),
    case("legume_allergy_warns_phosphatidylcholine",
         "Soy is a legume.",
         patient(group_allergy(1, "legumes")), [PCDC], "caution",
         W("cross_reactivity", PCDC, 1)),
    case("amide_allergy_does_not_flag_procaine",
         "Amides and esters do not cross-react, in either direction.",
         patient(group_allergy(1, AMIDE)), [PROCAINE], "safe"),

    # ---- uncoded_allergy (free text) ----------------------------------------------------
    case("free_text_naming_nothing_warns_once",
         "Latex is no ingredient or group of the cocktail: one 'review by hand'.",
         patient(text_allergy(1, "latex", "severe", "hives")), [LIDO_PF, BIOTIN], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_names_ingredient",
         "'lidocaine' is a whole word of 'Lidocaine 2% (multi-dose)'.",
         patient(text_allergy(1, "lidocaine")), [LIDO_MD, BIOTIN], "blocked",
         B("uncoded_allergy", LIDO_MD, 1)),
    case("free_text_names_two_ingredients",
         "'Lidocaine 2%' names both lidocaine vials.",
         patient(text_allergy(1, "Lidocaine 2%")), [LIDO_PF, LIDO_MD], "blocked",
         B("uncoded_allergy", LIDO_PF, 1), B("uncoded_allergy", LIDO_MD, 1)),
    case("free_text_uppercase",
         "Case is ignored.",
         patient(text_allergy(1, "BIOTIN")), [BIOTIN], "blocked",
         B("uncoded_allergy", BIOTIN, 1)),
    case("free_text_names_group",
         "'benzyl alcohol reaction' contains the group name benzyl alcohol.",
         patient(text_allergy(1, "Benzyl  Alcohol reaction")), [PCDC, BAC_SALINE, BIOTIN],
         "blocked", B("uncoded_allergy", PCDC, 1), B("uncoded_allergy", BAC_SALINE, 1)),
    case("free_text_names_group_with_punctuation",
         "'PARABENS (in creams)' names the parabens of the multi-dose lidocaine only.",
         patient(text_allergy(1, "PARABENS (in creams)")), [LIDO_MD, LIDO_PF], "blocked",
         B("uncoded_allergy", LIDO_MD, 1)),
    case("free_text_singular_names_plural_group",
         "'paraben' is the parabens group.",
         patient(text_allergy(1, "paraben")), [LIDO_MD], "blocked",
         B("uncoded_allergy", LIDO_MD, 1)),
    case("free_text_short_group_name",
         "'soy' is the whole group name, short as it is.",
         patient(text_allergy(1, "soy")), [PCDC], "blocked",
         B("uncoded_allergy", PCDC, 1)),
    case("free_text_fragment_lido",
         "'Lido' is no whole word of any name: a person must look.",
         patient(text_allergy(1, "Lido")), [LIDO_MD], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_too_short_pen",
         "'pen' (penicillin?) is inside 'dexpanthenol' but names nothing.",
         patient(text_allergy(1, "pen")), [DEXPANTH], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_sulfa_not_sulfites",
         "'sulfa drugs' does not name sulfites (and sulfa allergy is not sulfite allergy).",
         patient(text_allergy(1, "sulfa drugs")), [BCOMPLEX], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_packaging_words_name_nothing",
         "'multi-dose' says how a vial is packed, not what is in it.",
         patient(text_allergy(1, "multi-dose")), [LIDO_MD], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_names_ingredient_not_in_cocktail",
         "Procaine is not in this cocktail: review by hand (the screen cannot know its groups).",
         patient(text_allergy(1, "procaine")), [LIDO_PF], "caution",
         W("uncoded_allergy", None, 1)),
    case("free_text_is_not_cross_screened",
         "'peanuts' names no group of the cocktail; the warning asks a person to judge the "
         "soy in PC/DC, without a second automatic finding.",
         patient(text_allergy(1, "peanuts")), [PCDC], "caution",
         W("uncoded_allergy", None, 1)),
    case("two_free_text_allergies_two_warnings",
         "One review per free-text allergy.",
         patient(text_allergy(1, "latex"), text_allergy(2, "nickel")), [BIOTIN], "caution",
         W("uncoded_allergy", None, 1), W("uncoded_allergy", None, 2)),
    case("free_text_empty_cocktail",
         "Nothing to match, still an allergy to review.",
         patient(text_allergy(1, "latex")), [], "caution",
         W("uncoded_allergy", None, 1)),

    # ---- contraindication -------------------------------------------------------------
    case("pregnancy_blocks_any_cocktail",
         "Mesotherapy is contraindicated in pregnancy whatever the cocktail.",
         patient(conditions={"pregnant"}), [BIOTIN], "blocked",
         B("contraindication")),
    case("pregnancy_general_and_minoxidil",
         "General contraindication plus minoxidil's own.",
         patient(conditions={"pregnant"}), [MINOX, BIOTIN], "blocked",
         B("contraindication"), B("contraindication", MINOX)),
    case("breastfeeding_general_and_dutasteride",
         "Dutasteride is contraindicated while breastfeeding, and so is mesotherapy.",
         patient(conditions={"breastfeeding"}), [DUTA], "blocked",
         B("contraindication"), B("contraindication", DUTA)),
    case("pregnant_and_breastfeeding_hair_cocktail",
         "Two general findings and each ingredient's own for each condition.",
         patient(conditions={"pregnant", "breastfeeding"}), [MINOX, DUTA, BIOTIN], "blocked",
         B("contraindication"), B("contraindication"),
         B("contraindication", MINOX), B("contraindication", MINOX),
         B("contraindication", DUTA), B("contraindication", DUTA)),
    case("anticoagulant_therapy_blocks",
         "Micro-injections bleed and bruise on anticoagulants.",
         patient(conditions={"anticoagulant_therapy"}), [HYAL], "blocked",
         B("contraindication")),
    case("bleeding_disorder_and_skin_infection_block",
         "Two blocking conditions, two findings.",
         patient(conditions={"bleeding_disorder", "active_skin_infection"}), [BIOTIN],
         "blocked", B("contraindication"), B("contraindication")),
    case("diabetes_warns",
         "Diabetes calls for caution, not a refusal.",
         patient(conditions={"diabetes"}), [BIOTIN], "caution",
         W("contraindication")),
    case("all_warning_conditions",
         "Diabetes, autoimmune disease and cancer: three warnings, no block.",
         patient(conditions={"diabetes", "autoimmune_disease", "cancer"}), [DEXPANTH],
         "caution", W("contraindication"), W("contraindication"), W("contraindication")),
    case("diabetes_does_not_trigger_minoxidil_own_contraindications",
         "Minoxidil's own contraindications are pregnancy and breastfeeding only.",
         patient(conditions={"diabetes"}), [MINOX], "caution",
         W("contraindication")),
    case("pregnancy_empty_cocktail",
         "The general contraindication is about the treatment, not an ingredient.",
         patient(status="unknown", conditions={"pregnant"}), [], "blocked",
         B("contraindication"), W("allergies_not_assessed")),

    # ---- combinations -----------------------------------------------------------------
    case("three_allergies_on_one_ingredient",
         "Paraben allergy, allergy to PF lidocaine (shared amide) and free text 'lidocaine' "
         "each block the multi-dose lidocaine.",
         patient(group_allergy(1, "parabens"), ing_allergy(2, LIDO_PF),
                 text_allergy(3, "lidocaine")), [LIDO_MD], "blocked",
         B("allergen_group", LIDO_MD, 1), B("allergen_group", LIDO_MD, 2),
         B("uncoded_allergy", LIDO_MD, 3)),
    case("mixed_statuses_only_active_counts",
         "Only the active paraben allergy counts: it blocks the preserved lidocaine and "
         "warns on procaine; the inactive ester and refuted soy allergies say nothing.",
         patient(group_allergy(1, "parabens"), group_allergy(2, ESTER, status="inactive"),
                 group_allergy(3, "soy", status="refuted")),
         [LIDO_MD, PROCAINE, PCDC], "blocked",
         B("allergen_group", LIDO_MD, 1), W("cross_reactivity", PROCAINE, 1)),
    case("warnings_only_add_up_to_caution",
         "Diabetes and an ester allergy against a preserved amide: two warnings, no block.",
         patient(group_allergy(1, ESTER), conditions={"diabetes"}), [LIDO_MD, BIOTIN],
         "caution", W("contraindication"), W("cross_reactivity", LIDO_MD, 1)),
    case("not_assessed_and_condition_warnings",
         "Unassessed allergies and cancer: both warnings.",
         patient(status="unknown", conditions={"cancer"}), [BIOTIN], "caution",
         W("allergies_not_assessed"), W("contraindication")),
    case("block_outweighs_warnings",
         "A pregnant patient with a cobalt allergy: blocked, the warning still shown.",
         patient(group_allergy(1, "cobalt"), conditions={"pregnant"}), [CYANO, DUTA],
         "blocked", B("contraindication"), B("contraindication", DUTA),
         W("cross_reactivity", CYANO, 1)),
    case("several_allergies_across_a_fat_cocktail",
         "Soy blocks PC/DC, sulfites block the B complex, cobalt warns on B12; biotin clean.",
         patient(group_allergy(1, "soy"), group_allergy(2, "sulfites"),
                 group_allergy(3, "cobalt")),
         [PCDC, BCOMPLEX, CYANO, BIOTIN], "blocked",
         B("allergen_group", PCDC, 1), B("allergen_group", BCOMPLEX, 2),
         W("cross_reactivity", CYANO, 3)),
    case("none_known_but_allergy_on_file_still_screened",
         "Inconsistent record (none_known yet an active allergy): the allergy still counts.",
         patient(group_allergy(1, "ovine proteins"), status="none_known"), [HYAL], "blocked",
         B("allergen_group", HYAL, 1)),
]


@pytest.mark.parametrize("c", [pytest.param(c, id=c.id) for c in CASES])
def test_truth_table(c: Case):
    result = screen(c.patient, c.cocktail, CROSS)
    got = Counter((f.level, f.kind, f.ingredient_id, f.allergy_id) for f in result.findings)
    assert (result.verdict, got) == (c.verdict, Counter(c.findings)), c.why
    assert result.verdict == verdict_of(result.findings)
    assert all(f.message.endswith(".") and f.message[0].isupper() for f in result.findings)


def test_truth_table_is_big_and_covers_every_rule():
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)
    kinds = {f[1] for c in CASES for f in c.findings}
    assert kinds == set(KINDS)
    assert {c.verdict for c in CASES} == {"safe", "caution", "blocked"}
    covered = {cond for c in CASES for cond in c.patient.conditions}
    assert covered == set(CONDITIONS)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_condition_has_its_level(condition):
    result = screen(patient(conditions={condition}), [BIOTIN], CROSS)
    expected = "block" if condition in BLOCKING_CONDITIONS else "warn"
    assert [(f.level, f.kind, f.ingredient_id) for f in result.findings] == [
        (expected, "contraindication", None)]
    assert CONDITION_LABELS[condition].capitalize() in result.findings[0].message


def test_ingredient_contraindication_blocks_even_for_a_warning_condition():
    # A pharmacist who codes an ingredient as contraindicated in cancer means it.
    ing = ScreenIngredient(99, "Growth factor serum", frozenset(), frozenset({"cancer"}))
    result = screen(patient(conditions={"cancer"}), [ing], CROSS)
    assert [(f.level, f.kind, f.ingredient_id) for f in result.findings] == [
        ("block", "contraindication", 99), ("warn", "contraindication", None)]
    assert result.findings[0].message == "Growth factor serum is contraindicated in cancer."


# --------------------------------------------------------------------------- messages

def only(result):
    assert len(result.findings) == 1, result.findings
    return result.findings[0].message


def test_message_group_allergy():
    p = patient(group_allergy(1, "  PARABENS ", "severe", "urticaria"))
    assert only(screen(p, [LIDO_MD], CROSS)) == (
        "Lidocaine 2% (multi-dose) contains parabens, to which the patient had a severe "
        "reaction (urticaria).")


def test_message_cross_reactivity_from_group():
    p = patient(group_allergy(1, "parabens", "moderate"))
    assert only(screen(p, [PROCAINE], CROSS)) == (
        "Procaine 1% contains ester local anesthetic, which can cross-react with parabens, "
        "to which the patient had a moderate reaction.")


def test_message_cross_reactivity_from_product():
    p = patient(ing_allergy(1, LIDO_MD, "mild", "rash"))
    assert only(screen(p, [PROCAINE], CROSS)) == (
        "Procaine 1% contains ester local anesthetic, which can cross-react with parabens "
        "in Lidocaine 2% (multi-dose), to which the patient had a mild reaction (rash).")


def test_message_shared_group_names_group_and_product():
    p = patient(ing_allergy(1, LIDO_PF, "anaphylaxis", "throat swelling"))
    assert only(screen(p, [LIDO_MD], CROSS)) == (
        "Lidocaine 2% (multi-dose) contains amide local anesthetic, as does Lidocaine 2% "
        "(preservative-free), to which the patient had anaphylaxis (throat swelling).")


def test_message_direct_allergy():
    p = patient(ing_allergy(1, BIOTIN, "mild", "  itching  "))
    assert only(screen(p, [BIOTIN], CROSS)) == (
        "The patient had a mild reaction (itching) to Biotin 5 mg/mL.")


def test_message_anaphylaxis_not_repeated():
    p = patient(group_allergy(1, "soy", "anaphylaxis", "Anaphylaxis"))
    assert only(screen(p, [PCDC], CROSS)) == (
        "Phosphatidylcholine 5% / deoxycholate 4.75% contains soy, to which the patient had "
        "anaphylaxis.")


def test_message_free_text():
    p = patient(text_allergy(1, " latex ", "severe", "hives"))
    assert only(screen(p, [BIOTIN], CROSS)) == (
        "Free-text allergy 'latex' names no ingredient or allergen group on file: review by hand. "
        "The patient had a severe reaction (hives).")
    p = patient(text_allergy(1, "benzyl alcohol reaction"))
    assert only(screen(p, [BAC_SALINE], CROSS)) == (
        "Free-text allergy 'benzyl alcohol reaction' names benzyl alcohol, which "
        "Bacteriostatic sodium chloride 0.9% contains; the patient had a moderate reaction.")
    p = patient(text_allergy(1, "lidocaine"))
    assert only(screen(p, [LIDO_MD], CROSS)) == (
        "Free-text allergy 'lidocaine' names Lidocaine 2% (multi-dose), an ingredient of "
        "this cocktail; the patient had a moderate reaction.")


def test_message_patient_level():
    result = screen(patient(status="unknown", conditions={"pregnant", "diabetes"}), [DUTA], CROSS)
    assert [f.message for f in result.findings] == [
        "Pregnancy: mesotherapy is contraindicated.",
        "Dutasteride 0.05% is contraindicated in pregnancy.",
        "Diabetes: use mesotherapy with caution.",
        "Allergies have not been assessed: ask the patient before treating.",
    ]


# --------------------------------------------------------------------------- order, duplicates

def test_findings_order_blocks_then_warnings_patient_first_then_ingredient_name():
    p = patient(group_allergy(7, "parabens"), status="known",
                conditions={"pregnant", "breastfeeding", "diabetes"})
    result = screen(p, [PROCAINE, MINOX, LIDO_MD, DUTA], CROSS)
    assert [(f.level, f.kind, f.ingredient_id) for f in result.findings] == [
        ("block", "contraindication", None),     # Breastfeeding: ...
        ("block", "contraindication", None),     # Pregnancy: ...
        ("block", "contraindication", DUTA.id),  # Dutasteride ... breastfeeding
        ("block", "contraindication", DUTA.id),  # Dutasteride ... pregnancy
        ("block", "allergen_group", LIDO_MD.id),
        ("block", "contraindication", MINOX.id),
        ("block", "contraindication", MINOX.id),
        ("warn", "contraindication", None),
        ("warn", "cross_reactivity", PROCAINE.id),
    ]
    assert result.findings[0].message.startswith("Breastfeeding")
    assert result.findings[2].message.endswith("breastfeeding.")
    assert result.verdict == "blocked"
    assert len(result.blocks) == 7 and len(result.warnings) == 2


def test_order_of_input_does_not_matter():
    allergies = [group_allergy(1, "parabens"), ing_allergy(2, BAC_SALINE),
                 text_allergy(3, "latex"), group_allergy(4, "cobalt")]
    cocktail = [LIDO_MD, PROCAINE, PCDC, CYANO, BIOTIN]
    results = {
        screen(patient(*a, conditions={"diabetes", "pregnant"}), c, CROSS)
        for a in itertools.permutations(allergies)
        for c in (cocktail, cocktail[::-1], cocktail[2:] + cocktail[:2])
    }
    assert len(results) == 1


def test_ingredient_listed_twice_gives_no_duplicate():
    p = patient(group_allergy(1, "parabens"), conditions={"pregnant"})
    once = screen(p, [LIDO_MD, MINOX], CROSS)
    assert screen(p, [LIDO_MD, MINOX, LIDO_MD, MINOX], CROSS) == once


def test_same_allergy_recorded_twice_without_id_is_one_finding():
    a = group_allergy(None, "soy")
    result = screen(patient(a, a), [PCDC], CROSS)
    assert [(f.kind, f.ingredient_id, f.allergy_id) for f in result.findings] == [
        ("allergen_group", PCDC.id, None)]


def test_same_allergen_recorded_twice_with_ids_keeps_both():
    result = screen(patient(group_allergy(1, "soy"), group_allergy(2, "SOY")), [PCDC], CROSS)
    assert [f.allergy_id for f in result.findings] == [1, 2]


def test_without_cross_reactivity_table_only_warnings_vanish():
    p = patient(group_allergy(1, ESTER))
    assert screen(p, [LIDO_MD], CrossReactivity()).verdict == "safe"
    assert screen(p, [PROCAINE], CrossReactivity()).verdict == "blocked"


def test_patient_screen_reused_across_cocktails_matches_a_fresh_screen():
    # The picker screens one patient against every cocktail with one PatientScreen,
    # which remembers each ingredient's findings: a free text that names an ingredient
    # of one cocktail must still warn on the next cocktail, which lacks it.
    cocktails = list(dict.fromkeys(c.cocktail for c in CASES))
    for c in CASES[::3]:
        prepared = PatientScreen(c.patient, CROSS)
        for cocktail in cocktails + cocktails[::-1]:
            assert prepared(cocktail) == screen(c.patient, cocktail, CROSS), c.id


def test_picker_with_free_text_allergy():
    prepared = PatientScreen(patient(text_allergy(1, "lidocaine")), CROSS)
    results = [(name, prepared(cocktail)) for name, cocktail in [
        ("Scalp booster", [LIDO_MD, BIOTIN, DEXPANTH]),
        ("Hair B12", [CYANO, BIOTIN]),
        ("Lipolysis", [PCDC, LIDO_PF]),
    ]]
    ranked = rank_formulations(results, name=lambda n: n)
    assert [(n, r.verdict) for n, r in ranked] == [
        ("Hair B12", "caution"), ("Lipolysis", "blocked"), ("Scalp booster", "blocked")]
    assert [(f.kind, f.ingredient_id) for f in ranked[0][1].findings] == [
        ("uncoded_allergy", None)]


def test_results_are_frozen():
    result = screen(patient(conditions={"pregnant"}), [BIOTIN], CROSS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.verdict = "safe"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.findings[0].level = "warn"  # type: ignore[misc]


# --------------------------------------------------------------------------- free text

@pytest.mark.parametrize("text, name, names", [
    ("lidocaine", "Lidocaine 2% (multi-dose)", True),        # a whole word of the name
    ("LIDOCAINE", "Lidocaine 2% (multi-dose)", True),
    ("Lidocaine 2%", "Lidocaine 2% (multi-dose)", True),     # words in a row
    ("lidocaine multi-dose", "Lidocaine 2% (multi-dose)", False),  # not in a row
    ("Lido", "Lidocaine 2% (multi-dose)", False),            # part of a word
    ("pen", "Dexpanthenol 250 mg/mL", False),
    ("penicillin", "Dexpanthenol 250 mg/mL", False),
    ("benzyl alcohol reaction", "benzyl alcohol", True),     # the name inside the text
    ("benzyl-alcohol", "Benzyl  Alcohol", True),             # punctuation and spacing
    ("alcohol", "benzyl alcohol", True),                     # 4+ chars, a whole word
    ("soy", "soy", True),                                    # the whole name, short as it is
    ("soya lecithin", "soy", False),                         # another word
    ("parabens", "paraben", True),                           # plain plural
    ("sulfa drugs", "sulfites", False),
    ("multi-dose", "Lidocaine 2% (multi-dose)", False),      # packaging words only
    ("2%", "Lidocaine 2% (multi-dose)", False),
    ("HA", "HA 1.35% (non-cross-linked)", False),            # under 4 characters: ambiguous
    ("HA 1.35%", "HA 1.35% (non-cross-linked)", True),
    ("sodium chloride", "Bacteriostatic sodium chloride 0.9%", False),
    ("bacteriostatic saline", "Bacteriostatic sodium chloride 0.9%", False),
    ("bacteriostatic", "Bacteriostatic sodium chloride 0.9%", True),
    ("", "soy", False),
    ("---", "soy", False),
    ("latex", "", False),
])
def test_free_text_names(text, name, names):
    assert free_text_names(text, name) is names


# --------------------------------------------------------------------------- cross table

def test_cross_reactivity_is_symmetric_case_insensitive_and_not_transitive():
    cross = CrossReactivity([("Ester Local Anesthetic", "PABA"), ("paba", "Parabens")])
    assert cross.reacts("ester local anesthetic", "paba")
    assert cross.reacts("PABA", "  ester   LOCAL anesthetic")
    assert cross.reacts("parabens", "PABA")
    assert not cross.reacts("ester local anesthetic", "parabens")  # not transitive
    assert not cross.reacts("amide local anesthetic", "ester local anesthetic")
    assert not cross.reacts("PABA", "PABA")
    assert not cross.reacts("unknown", "PABA")
    assert cross.partners("Paba") == {"ester local anesthetic", "parabens"}
    assert len(cross) == 2
    assert cross == CrossReactivity([("parabens", "paba"), ("paba", "ester local anesthetic")])
    assert len(CrossReactivity()) == 0


def test_cross_reactivity_refuses_a_group_with_itself():
    with pytest.raises(ValueError):
        CrossReactivity([("Soy", " soy ")])
    with pytest.raises(ValueError):
        CrossReactivity([("soy", "  ")])


def test_group_key():
    assert group_key("  Benzyl \t ALCOHOL ") == "benzyl alcohol"


# --------------------------------------------------------------------------- refused input

@pytest.mark.parametrize("build", [
    lambda: ScreenPatient("unknown", (), frozenset({"pregnancy"})),      # misspelt condition
    lambda: ScreenPatient("assessed", (), frozenset()),
    lambda: ScreenPatient("known", (), "pregnant"),                      # a string, not a set
    lambda: ScreenAllergy(1, "active", "severe!", None, group="soy"),
    lambda: ScreenAllergy(1, "resolved", "mild", None, group="soy"),
    lambda: ScreenAllergy(1, "active", "mild", None),                    # no target
    lambda: ScreenAllergy(1, "active", "mild", None, ingredient_id=1, group="soy"),
    lambda: ScreenAllergy(1, "active", "mild", None, substance="  "),
    lambda: ScreenAllergy(1, "active", "mild", None, group="soy", ingredient_groups={"soy"}),
    lambda: ScreenIngredient(1, "Minoxidil 2%", frozenset(), frozenset({"pregnancy"})),
    lambda: ScreenIngredient(1, " ", frozenset(), frozenset()),
    lambda: ScreenIngredient(1, "Biotin", "vitamins", frozenset()),
    lambda: ScreenIngredient("1", "Biotin", frozenset(), frozenset()),
    lambda: ScreenAllergy(1, "active", "mild", None, ingredient_id="8"),
    lambda: Finding("error", "allergy", 1, "x"),
    lambda: Finding("block", "interaction", 1, "x"),
    lambda: ScreenResult("safe", (Finding("warn", "allergies_not_assessed", None, "x"),)),
])
def test_malformed_input_is_refused(build):
    with pytest.raises(ValueError):
        build()


def test_screen_needs_a_cross_reactivity_table():
    with pytest.raises(TypeError):
        screen(patient(), [BIOTIN], [("soy", "peanut")])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- verdicts, picker

@pytest.mark.parametrize("levels, verdict", [
    ((), "safe"),
    (("warn",), "caution"),
    (("warn", "warn"), "caution"),
    (("block",), "blocked"),
    (("warn", "block"), "blocked"),
])
def test_verdict_of(levels, verdict):
    assert verdict_of(Finding(level, "allergy", 1, "x") for level in levels) == verdict


def test_rank_formulations_safe_then_caution_then_blocked_by_name():
    safe = ScreenResult("safe", ())
    caution = ScreenResult("caution", (Finding("warn", "contraindication", None, "x"),))
    blocked = ScreenResult("blocked", (Finding("block", "contraindication", None, "x"),))
    results = [("Zinc glow", safe), ("hair booster", blocked), ("Fat melt", caution),
               ("Anti-age", blocked), ("biotin boost", safe)]
    assert [k for k, _ in rank_formulations(results, name=str)] == [
        "biotin boost", "Zinc glow", "Fat melt", "Anti-age", "hair booster"]
    # Without a name the order given is kept within a verdict.
    assert [k for k, _ in rank_formulations(results)] == [
        "Zinc glow", "biotin boost", "Fat melt", "hair booster", "Anti-age"]


# --------------------------------------------------------------------------- the picker's fast path
# The formulation picker ranks every cocktail by PatientScreen.verdict (flags per
# ingredient, no finding built) and builds the findings only for the cocktails shown: the
# verdict must be exactly the one the findings give, for every rule.


def test_verdict_without_findings_equals_the_verdict_of_the_findings():
    cocktails = list(dict.fromkeys(tuple(c.cocktail) for c in CASES))
    shelf = tuple(dict.fromkeys(ing for c in CASES for ing in c.cocktail))
    cocktails += [(), (LIDO_MD, LIDO_MD), (BIOTIN, DEXPANTH), shelf]
    for c in CASES:
        prepared = PatientScreen(c.patient, CROSS)
        assert prepared.verdict(c.cocktail) == c.verdict, c.id
        for cocktail in cocktails + cocktails[::-1]:
            assert prepared.verdict(cocktail) == screen(c.patient, cocktail, CROSS).verdict, c.id
            assert prepared.verdict(cocktail) == prepared(cocktail).verdict, c.id


def test_verdict_of_flags_ored_equals_the_verdict_of_the_findings():
    # The picker's tight loop: each ingredient's flags worked out once, ORed per
    # cocktail, then read as a verdict (0 for a cocktail with no ingredients).
    cocktails = list(dict.fromkeys(tuple(c.cocktail) for c in CASES))
    shelf = tuple(dict.fromkeys(ing for c in CASES for ing in c.cocktail))
    cocktails += [(), (LIDO_MD, LIDO_MD), (BIOTIN, DEXPANTH), shelf]
    for c in CASES:
        prepared = PatientScreen(c.patient, CROSS)
        flags = {ing: prepared.flags(ing) for ing in shelf}
        for cocktail in cocktails + cocktails[::-1]:
            ored = 0
            for ing in cocktail:
                ored |= flags[ing]
            assert prepared.verdict_of_flags(ored) == screen(c.patient, cocktail, CROSS).verdict, c.id
    with pytest.raises(TypeError):
        PatientScreen(patient(), CROSS).flags("biotin")


def test_verdict_counts_a_free_text_review_unless_the_cocktail_names_it():
    # Two free texts: "lidocaine" names the lidocaines, "latex" names nothing. A cocktail
    # is safe only when every free text is named by one of its ingredients (and then it
    # is blocked by that ingredient).
    prepared = PatientScreen(patient(text_allergy(1, "lidocaine"), conditions=()), CROSS)
    assert prepared.verdict([BIOTIN]) == "caution"
    assert prepared.verdict([BIOTIN, LIDO_PF]) == "blocked"
    both = PatientScreen(patient(text_allergy(1, "lidocaine"), text_allergy(2, "latex")), CROSS)
    assert both.verdict([LIDO_PF]) == "blocked" == both([LIDO_PF]).verdict
    assert both.verdict([BIOTIN]) == "caution"
    assert PatientScreen(patient(), CROSS).verdict([BIOTIN]) == "safe"


def test_verdict_refuses_what_is_not_an_ingredient():
    prepared = PatientScreen(patient(), CROSS)
    with pytest.raises(TypeError):
        prepared.verdict([BIOTIN, "biotin"])
    with pytest.raises(TypeError):
        prepared(["biotin"])


def test_two_values_with_one_id_give_no_duplicate_and_lose_nothing():
    # Two spellings of one ingredient id (not something the database gives, but the
    # screen takes any values): every finding of each, none twice.
    a = ScreenIngredient(2, "Lidocaine 2% (multi-dose)", frozenset({AMIDE, "parabens"}))
    b = ScreenIngredient(2, "Lidocaine 2%  (multi-dose)", frozenset({AMIDE}))
    p = patient(group_allergy(1, AMIDE), text_allergy(2, "latex"), conditions={"diabetes"})
    result = screen(p, [a, b, a], CROSS)
    assert len(set(result.findings)) == len(result.findings)
    assert set(result.findings) == set(screen(p, [a], CROSS).findings) | set(
        screen(p, [b], CROSS).findings)


def test_formulation_key_is_the_order_of_rank_formulations():
    from formulary.domain.safety import formulation_key

    names = ["Zinc glow", "hair booster", "Fat melt", "Anti-age", "biotin boost", "Fat  melt"]
    verdicts = ["safe", "blocked", "caution", "blocked", "safe", "caution"]
    results = [(n, ScreenResult(v, () if v == "safe" else (
        Finding("block" if v == "blocked" else "warn", "contraindication", None, "x"),)))
        for n, v in zip(names, verdicts)]
    by_key = sorted(results, key=lambda item: formulation_key(item[1].verdict, item[0]))
    assert by_key == rank_formulations(results, name=str)
    assert formulation_key("safe") < formulation_key("caution") < formulation_key("blocked")
    # The picker works out each cocktail's name order once (name_order) and ranks by
    # (formulation_key(verdict), name_order(name)): the same order.
    from formulary.domain.safety import name_order

    by_parts = sorted(results, key=lambda item: (formulation_key(item[1].verdict),
                                                 name_order(item[0])))
    assert by_parts == by_key
    assert name_order(" Fat  melt ") == ("fat melt", "Fat melt")


# The picker ranks every cocktail by its ingredients' flags ORed (PatientScreen.flags):
# for any patient, ingredients and cross-reactivity table, beyond the truth table's, the
# verdict they give must be the one the findings give.
_GROUP_NAMES = ["paraben", "Paraben", "amide local anesthetic", "ester local anesthetic",
                "para-aminobenzoic acid", "soy", "benzyl alcohol", "sulfite", "cobalt"]
_INGREDIENT_NAMES = ["Lidocaine 2% (multi-dose)", "Procaine 1%", "Soy lecithin 5%",
                     "Biotin 5 mg/mL", "Benzyl alcohol 0.9%", "Sodium metabisulfite",
                     "Cyanocobalamin 1 mg/mL"]
_FREE_TEXTS = ["lidocaine", "parabens", "soy", "benzyl alcohol", "latex", "sulfites",
               "procaine 1%", "vitamin b"]
_groups = st.frozensets(st.sampled_from(_GROUP_NAMES), max_size=3)
_ingredients = st.builds(
    ScreenIngredient, id=st.integers(1, 6), name=st.sampled_from(_INGREDIENT_NAMES),
    groups=_groups, contraindications=st.frozensets(st.sampled_from(CONDITIONS), max_size=2))


@st.composite
def _allergies(draw, index):
    kind = draw(st.sampled_from(["ingredient", "group", "text"]))
    common = dict(id=index, status=draw(st.sampled_from(ALLERGY_STATUSES)),
                  severity=draw(st.sampled_from(SEVERITIES)), reaction=None)
    if kind == "ingredient":
        return ScreenAllergy(**common, ingredient_id=draw(st.integers(1, 6)),
                             ingredient_name=draw(st.sampled_from(_INGREDIENT_NAMES)),
                             ingredient_groups=draw(_groups))
    if kind == "group":
        return ScreenAllergy(**common, group=draw(st.sampled_from(_GROUP_NAMES)))
    return ScreenAllergy(**common, substance=draw(st.sampled_from(_FREE_TEXTS)))


@st.composite
def _patients(draw):
    allergies = tuple(draw(_allergies(i)) for i in range(draw(st.integers(0, 6))))
    status = "known" if allergies else draw(st.sampled_from(ALLERGY_ASSESSMENTS))
    return ScreenPatient(allergy_status=status, allergies=allergies,
                         conditions=draw(st.frozensets(st.sampled_from(CONDITIONS), max_size=2)))


_cross_tables = st.lists(
    st.tuples(st.sampled_from(_GROUP_NAMES), st.sampled_from(_GROUP_NAMES))
    .filter(lambda p: p[0].casefold() != p[1].casefold()), max_size=4).map(CrossReactivity)


@settings(max_examples=400, deadline=None)
@given(_patients(), st.lists(_ingredients, min_size=1, max_size=4), _cross_tables)
def test_ored_flags_give_the_verdict_of_the_findings(patient_, ingredients, cross):
    prepared = PatientScreen(patient_, cross)
    ored = 0
    for ing in ingredients:
        ored |= prepared.flags(ing)
    assert prepared.verdict_of_flags(ored) == screen(patient_, ingredients, cross).verdict
    assert prepared.verdict(ingredients) == prepared(ingredients).verdict
