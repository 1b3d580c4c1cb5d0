"""The controlled vocabularies and their starting terms (DOMAIN.md).

The starting terms are inserted by migration 0002; stewards add and retire terms through the
API. Vocabularies in FIXED drive the software's own rules (stage order, sides, partner kinds),
so they cannot be extended at run time.
"""

from typing import Final

TAXONOMIES: Final[dict[str, str]] = {
    "side": "Which side of intimate partner violence a group works with",
    "format": "How a group is run",
    "group_type": "Whether new members can join at any time",
    "delivery": "Where a group meets",
    "population": "Who a group or partner serves",
    "language": "Languages a group or partner works in (ISO 639-1)",
    "partner_kind": "Kinds of organizations and listings",
    "specialty": "A partner's areas of experience",
    "evaluation_stage": "How far a program's evaluation has come",
    "evaluation_design": "How an evaluation is designed (also an evaluator's methods)",
    "outcome": "Outcomes an evaluation measures",
    "course_topic": "What a trainer's courses cover",
}

FIXED: Final[frozenset[str]] = frozenset(
    {"side", "group_type", "delivery", "partner_kind", "evaluation_stage"}
)

# (code, label, description)
DEFAULT_TERMS: Final[dict[str, list[tuple[str, str, str]]]] = {
    "side": [
        ("survivors", "Survivors", "Peer support for people who experienced IPV"),
        (
            "people_who_use_violence",
            "People who use violence",
            "Groups that help people reduce or end their use of violence",
        ),
        ("both", "Both", "Work with both sides, e.g. family or couples work"),
    ],
    "format": [
        ("twelve_step", "12-step", "A 12-step fellowship, e.g. Batterers Anonymous"),
        ("peer_led_support_group", "Peer-led support group", "Facilitated by people with lived experience"),
        ("co_facilitated", "Co-facilitated", "A peer and a clinician facilitate together"),
        ("psychoeducational", "Psychoeducational", "Structured curriculum about abuse and change"),
        ("mutual_aid_circle", "Mutual aid circle", "Members support each other without a set program"),
        ("one_to_one_peer_mentoring", "One-to-one peer mentoring", "A peer mentor meets one person"),
    ],
    "group_type": [
        ("open_group", "Open group", "New members can join at any meeting"),
        ("closed_group", "Closed group", "A fixed cohort starts and ends together"),
    ],
    "delivery": [
        ("in_person", "In person", "Meets at a physical place"),
        ("online", "Online", "Meets online"),
        ("hybrid", "Hybrid", "Both in person and online"),
    ],
    "population": [
        ("women", "Women", ""),
        ("men", "Men", ""),
        ("lgbtq", "LGBTQ+ people", ""),
        ("youth", "Youth and teens", ""),
        ("older_adults", "Older adults", ""),
        ("cultural_community", "Specific cultural communities", ""),
        ("language_community", "Specific language communities", ""),
        ("court_referred", "People referred by courts", ""),
        ("substance_use", "People with substance-use needs", ""),
        ("disability", "People with disabilities", ""),
        ("immigrants_refugees", "Immigrants and refugees", ""),
        ("rural", "Rural communities", ""),
        ("indigenous", "Indigenous communities", ""),
    ],
    "language": [
        (code, label, "")
        for code, label in [
            ("en", "English"),
            ("es", "Spanish"),
            ("fr", "French"),
            ("de", "German"),
            ("nl", "Dutch"),
            ("pt", "Portuguese"),
            ("it", "Italian"),
            ("pl", "Polish"),
            ("ro", "Romanian"),
            ("sv", "Swedish"),
            ("da", "Danish"),
            ("no", "Norwegian"),
            ("fi", "Finnish"),
            ("el", "Greek"),
            ("tr", "Turkish"),
            ("ar", "Arabic"),
            ("fa", "Persian"),
            ("ur", "Urdu"),
            ("hi", "Hindi"),
            ("bn", "Bengali"),
            ("pa", "Punjabi"),
            ("ta", "Tamil"),
            ("zh", "Chinese"),
            ("ja", "Japanese"),
            ("ko", "Korean"),
            ("vi", "Vietnamese"),
            ("tl", "Tagalog"),
            ("th", "Thai"),
            ("id", "Indonesian"),
            ("ms", "Malay"),
            ("sw", "Swahili"),
            ("am", "Amharic"),
            ("so", "Somali"),
            ("yo", "Yoruba"),
            ("ha", "Hausa"),
            ("zu", "Zulu"),
            ("af", "Afrikaans"),
            ("ru", "Russian"),
            ("uk", "Ukrainian"),
            ("he", "Hebrew"),
            ("ht", "Haitian Creole"),
            ("asl", "American Sign Language"),
        ]
    ],
    "partner_kind": [
        ("peer_program", "Peer program", "An existing peer-support program"),
        ("clinician", "Clinician", "A clinician with IPV training"),
        ("treatment_program", "Treatment program", "A specialised IPV treatment program"),
        ("evaluator", "Evaluator", "An evaluator or research group"),
        ("trainer", "Trainer", "A provider of IPV, peer-support or high-risk-client training"),
    ],
    "specialty": [
        ("survivors", "Survivors", "Works with people who experienced IPV"),
        ("people_who_use_violence", "People who use violence", "Works with people who use violence"),
        ("high_risk_clients", "High-risk clients", "Lethality and risk assessment, safety planning"),
        ("trauma", "Trauma", "Trauma-informed and trauma-focused care"),
        ("substance_use", "Substance use", "Co-occurring substance use"),
        ("couples_family", "Couples and family", "Couples and family work"),
        ("youth", "Youth", "Work with young people"),
        ("peer_support_training", "Peer-support training", "Trains peer facilitators"),
        ("mental_health", "Mental health", "Co-occurring mental-health needs"),
    ],
    "evaluation_stage": [
        ("none", "No evaluation", "No evaluation planned yet"),
        ("pilot_planned", "Pilot planned", "A pilot is planned with partners"),
        ("pilot_running", "Pilot running", "A pilot is under way"),
        ("pilot_completed", "Pilot completed", "The pilot ended and was reviewed"),
        ("formally_evaluated", "Formally evaluated", "An evaluator carried out a formal evaluation"),
        ("published", "Published", "Findings are published"),
    ],
    "evaluation_design": [
        ("qualitative", "Qualitative", "Interviews, focus groups"),
        ("pre_post", "Pre/post", "Measures before and after"),
        ("quasi_experimental", "Quasi-experimental", "A comparison group without randomisation"),
        ("randomised", "Randomised", "A randomised controlled trial"),
        ("mixed_methods", "Mixed methods", "Qualitative and quantitative together"),
    ],
    "outcome": [
        ("mental_health", "Mental health", "Depression, anxiety, PTSD symptoms"),
        ("empowerment", "Empowerment", "Self-efficacy and empowerment"),
        ("ipv_recurrence", "IPV recurrence", "Recurrence of victimisation"),
        ("use_of_violence", "Use of violence", "Reduction in the use of violence"),
        ("help_seeking", "Help-seeking", "Seeking formal and informal help"),
        ("stigma", "Stigma", "Perceived and internalised stigma"),
        ("social_support", "Social support", "Perceived social support"),
    ],
}

DEFAULT_TERMS["course_topic"] = [
    ("ipv_basics", "IPV basics", "Intimate partner violence: forms, dynamics, risk"),
    ("facilitation", "Facilitation", "Running a peer group safely"),
    ("high_risk_clients", "High-risk clients", "Risk assessment, lethality and safety planning"),
    ("trauma_informed_practice", "Trauma-informed practice", "Working without retraumatising"),
    ("evaluation", "Evaluation", "Planning and running a pilot evaluation"),
]

STAGE_ORDER: Final[tuple[str, ...]] = tuple(code for code, _, _ in DEFAULT_TERMS["evaluation_stage"])
