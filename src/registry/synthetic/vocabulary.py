"""What the data can say and how often: the data set's shape, vocabulary codes and their weights,
the languages of each country, and the invented names, places and phrases.

Every code comes from `DEFAULT_TERMS`; names, e-mails (`example.org`/`example.net`) and phone
numbers (555) are made up.
"""

import itertools
from typing import Final

from registry.synthetic.random_rows import normalised_cumulative, subsets
from registry.taxonomies.vocabulary import DEFAULT_TERMS

# --- the data set's shape -------------------------------------------------------------------

KIND_SHARES: Final[tuple[tuple[str, float], ...]] = (
    ("peer_program", 0.55),
    ("clinician", 0.15),
    ("treatment_program", 0.10),
    ("evaluator", 0.08),
    ("trainer", 0.12),
)
LISTINGS_PER_ORGANIZATION: Final = 8
VERIFIED_SHARE: Final = 0.95
INITIATORS_PER_LISTING: Final = 0.1
INTRODUCTIONS_PER_LISTING: Final = 1.0

# --- codes and languages -------------------------------------------------------------------


def _codes(taxonomy: str) -> tuple[str, ...]:
    return tuple(code for code, _, _ in DEFAULT_TERMS[taxonomy])


SIDES: Final = _codes("side")
FORMATS: Final = _codes("format")
GROUP_TYPES: Final = _codes("group_type")
DELIVERIES: Final = _codes("delivery")
POPULATIONS: Final = _codes("population")
LANGUAGES: Final = _codes("language")
PARTNER_KINDS: Final = _codes("partner_kind")
SPECIALTIES: Final = _codes("specialty")
DESIGNS: Final = _codes("evaluation_design")
OUTCOMES: Final = _codes("outcome")
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FREQUENCIES: Final = ("weekly", "biweekly", "monthly", "irregular")
LISTING_STATUSES: Final = ("active", "planning", "paused", "closed")
PATHWAY_STEPS: Final = (1, 2, 3, 4, 5, 6)
WEEKDAY_NAMES: Final = {day: day.capitalize() for day in WEEKDAYS}
SERVICE_RADII: Final = (None, 10, 25, 50, 100, 200)
VISIBILITIES: Final = ("on_introduction", "verified_orgs", "public")

_ARABIC: Final = (
    "EG", "SA", "IQ", "MA", "DZ", "SY", "JO", "AE", "YE", "TN", "LY", "LB", "SD", "KW", "OM", "QA",
)  # fmt: skip
_SPANISH: Final = (
    "ES", "MX", "AR", "CO", "PE", "VE", "CL", "EC", "GT", "CU",
    "BO", "DO", "HN", "PY", "SV", "NI", "CR", "PA", "UY",
)  # fmt: skip
# The vocabulary's languages most spoken in a country, most common first (others: English).
COUNTRY_LANGUAGES: Final[dict[str, tuple[str, ...]]] = {
    "US": ("en", "es"),
    "CA": ("en", "fr"),
    "GB": ("en",),
    "IE": ("en",),
    "AU": ("en",),
    "NZ": ("en",),
    "IN": ("hi", "en", "bn", "ta", "ur", "pa"),
    "PK": ("ur", "pa", "en"),
    "BD": ("bn",),
    "CN": ("zh",),
    "TW": ("zh",),
    "HK": ("zh", "en"),
    "SG": ("en", "zh", "ms", "ta"),
    "JP": ("ja",),
    "KR": ("ko",),
    "VN": ("vi",),
    "TH": ("th",),
    "ID": ("id",),
    "MY": ("ms", "en", "zh"),
    "PH": ("tl", "en"),
    "BR": ("pt",),
    "PT": ("pt",),
    "AO": ("pt",),
    "MZ": ("pt",),
    "FR": ("fr",),
    "BE": ("nl", "fr"),
    "CH": ("de", "fr", "it"),
    "DE": ("de",),
    "AT": ("de",),
    "NL": ("nl",),
    "IT": ("it",),
    "PL": ("pl",),
    "RO": ("ro",),
    "SE": ("sv",),
    "DK": ("da",),
    "NO": ("no",),
    "FI": ("fi",),
    "GR": ("el",),
    "TR": ("tr",),
    "RU": ("ru",),
    "UA": ("uk", "ru"),
    "IL": ("he", "ar"),
    "IR": ("fa",),
    "AF": ("fa",),
    "HT": ("ht", "fr"),
    "KE": ("sw", "en"),
    "TZ": ("sw",),
    "ET": ("am",),
    "SO": ("so",),
    "NG": ("en", "yo", "ha"),
    "ZA": ("en", "zu", "af"),
    **dict.fromkeys(_ARABIC, ("ar",)),
    **dict.fromkeys(_SPANISH, ("es",)),
}
DEFAULT_LANGUAGES: Final = ("en",)

# --- invented names, places and phrases -----------------------------------------------------

FIRST_NAMES: Final = (
    "Maria", "James", "Aisha", "Wei", "Sofia", "Daniel", "Amara", "Lucas", "Priya", "Omar",
    "Elena", "Kofi", "Hana", "Mateo", "Fatima", "Noah", "Ingrid", "Diego", "Yuki", "Samuel",
    "Leila", "Tomas", "Grace", "Ravi", "Chloe", "Jamal", "Anika", "Pedro", "Nadia", "Ethan",
    "Zanele", "Hugo", "Mei", "Carlos", "Olivia", "Tariq", "Lena", "Kwame", "Rosa", "Arjun",
)  # fmt: skip
LAST_NAMES: Final = (
    "Okafor", "Smith", "Garcia", "Chen", "Novak", "Kowalski", "Haddad", "Silva", "Nguyen", "Patel",
    "Jansen", "Müller", "Rossi", "Kim", "Mensah", "Johansson", "Torres", "Ahmed", "Dubois", "Cohen",
    "Tanaka", "Brown", "Santos", "Ivanova", "Mbeki", "Larsen", "Hernández", "Singh", "Walker", "Yilmaz",
    "Ortiz", "Murphy", "Bakker", "Costa", "Sato", "Adeyemi", "Fischer", "Ramos", "Ali", "Lindqvist",
)  # fmt: skip
STREETS: Final = (
    "Main", "Church", "Station", "Park", "Market", "Mill", "River", "Harbor", "Oak", "Elm",
    "Cedar", "Hill", "Bridge", "Union", "King", "Queen", "Garden", "Lake", "Orchard", "School",
)  # fmt: skip
STREET_TYPES: Final = ("Street", "Road", "Avenue", "Lane", "Way", "Place")
PLACE_WORDS: Final = (
    "Harbor", "Riverside", "Northside", "Southgate", "Eastbrook", "Westfield", "Hillcrest",
    "Lakeside", "Cedar", "Beacon", "Bridge", "Maple", "Summit", "Crossroads", "Meadow", "Pioneer",
)  # fmt: skip
PROGRAM_THEMES: Final[dict[str, tuple[str, ...]]] = {
    "survivors": ("Survivors'", "Women's", "Healing", "Safe Harbor", "Phoenix", "Open Door", "Resilience"),
    "people_who_use_violence": (
        "Men's Accountability",
        "Change",
        "Respect",
        "Turning Point",
        "Non-Violence",
        "Responsible Choices",
    ),
    "both": ("Family Peace", "Relationship Repair", "Community Circle", "Safer Homes"),
}
GROUP_WORDS: Final = ("Circle", "Group", "Fellowship", "Peer Group", "Mentoring Circle", "Support Group")
CLINICIAN_CREDENTIALS: Final = (
    ["LCSW"],
    ["PhD", "Licensed Psychologist"],
    ["LMFT"],
    ["MD", "Psychiatrist"],
    ["LPC"],
    ["MSW", "Registered Social Worker"],
)
TREATMENT_CREDENTIALS: Final = ["State-certified intervention program"]
IPV_TRAININGS: Final = (
    "40-hour IPV intervention training",
    "Batterer intervention facilitator certificate",
    "Trauma-focused CBT and IPV risk assessment",
)
TREATMENT_WORDS: Final = (
    "Domestic Violence Intervention Program",
    "Partner Abuse Intervention Program",
    "Family Violence Treatment Service",
    "Relationship Violence Counselling Centre",
)
EVALUATOR_WORDS: Final = ("Evaluation Group", "Research Lab", "Applied Research Centre", "Evidence Partners")
TRAINER_WORDS: Final = (
    "Training Institute",
    "Peer Facilitator Academy",
    "Safe Practice Training",
    "Learning Collective",
)
COURSES: Final = (
    "Facilitating peer groups safely",
    "Risk assessment for group leaders",
    "Trauma-informed facilitation",
    "Working with court-referred participants",
    "Safety planning basics",
    "Co-facilitation with clinicians",
)
CERTIFICATIONS: Final = ("Certified Peer Specialist", "Certified Facilitator", "Accredited Trainer")
CONTACT_ROLES: Final = (
    "Intake line",
    "Coordinator",
    "Lead facilitator",
    "Program manager",
    "Clinical director",
    "Research lead",
    "Training coordinator",
)
ORG_WORDS: Final = ("Network", "Alliance", "Collective", "Foundation", "Centre", "Services", "Project")
ORG_THEMES: Final = ("IPV", "Peer", "Safe Relationships", "Family Violence", "Change")
PROGRAM_DESCRIPTIONS: Final = (
    "A peer support group meeting {freq} for {who}, facilitated by people with lived experience.",
    "A {fmt} where members share what helps them stay safe and rebuild.",
    "Accountability and support for {who}; new members welcome after an intake call.",
)
FORMAT_WORDS: Final = {code: label.lower() for code, label, _ in DEFAULT_TERMS["format"]}
PARTNER_DESCRIPTIONS: Final[dict[str, tuple[str, ...]]] = {
    "clinician": (
        "Clinician with IPV training offering consultation and co-facilitation for peer groups.",
        "Individual and group therapy; experienced with trauma and high-risk clients.",
    ),
    "treatment_program": (
        "A specialised intervention program for people who use violence in relationships.",
        "Court-recognised treatment program offering groups and individual sessions.",
    ),
    "evaluator": (
        "Evaluates community programs with mixed-methods and pre/post designs and shares findings.",
        "Research group supporting peer programs to plan and run pilot evaluations.",
    ),
    "trainer": (
        "Training for peer facilitators: safety planning, risk assessment and group skills.",
        "Courses on trauma-informed facilitation and working with high-risk clients.",
    ),
}
FINDINGS: Final = (
    "Members reported more social support; no safety incidents linked to the group.",
    "Attendance stayed steady and self-reported use of violence fell over six months.",
    "Participants reported less isolation and more help-seeking after the pilot.",
)
INTRODUCTION_MESSAGES: Final = (
    "Hello, I am starting a group in {place} and would like to talk.",
    "We are planning a peer group near {place}; could we discuss a partnership?",
    "I would like advice on starting a group in {place}.",
)
WHO: Final = ("survivors", "women", "men", "young people", "parents", "LGBTQ+ people", "newcomers")


def slug(text: str) -> str:
    kept = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text.lower())
    return "-".join(part for part in kept.split("-") if part)[:40] or "org"


# --- draw tables: cumulative weights and the code lists a row can carry ---------------------

SIDE_CUM: Final = normalised_cumulative((0.55, 0.35, 0.10))  # survivors, people_who_use_violence, both
DELIVERY_CUM: Final = normalised_cumulative((0.65, 0.15, 0.20))  # in_person, online, hybrid
STATUS_CUM: Final = normalised_cumulative((0.90, 0.04, 0.04, 0.02))
STAGE_CUM: Final = normalised_cumulative((0.60, 0.12, 0.10, 0.09, 0.06, 0.03))
VISIBILITY_CUM: Final = normalised_cumulative((0.60, 0.25, 0.15))
PATHWAY_CUM: Final = normalised_cumulative((0.30, 0.25, 0.18, 0.12, 0.09, 0.06))
RECENT_INTRO_STATUSES: Final = ("pending", "accepted", "declined", "withdrawn")
RECENT_INTRO_CUM: Final = normalised_cumulative((0.55, 0.20, 0.10, 0.15))
OLD_INTRO_STATUSES: Final = ("accepted", "declined", "expired", "withdrawn")
OLD_INTRO_CUM: Final = normalised_cumulative((0.45, 0.20, 0.25, 0.10))

POPULATION_SETS: Final = subsets(POPULATIONS, 0, 2)
FORMAT_SETS: Final = subsets(FORMATS, 1, 2)
INITIATOR_FORMAT_SETS: Final = subsets(FORMATS, 0, 2)
SPECIALTY_SETS: Final = subsets(SPECIALTIES, 1, 4)
METHOD_SETS: Final = subsets(DESIGNS, 1, 3)
OUTCOME_SETS: Final = subsets(OUTCOMES, 1, 3)
NEED_SETS: Final = subsets(PARTNER_KINDS, 1, 3)
WEEKDAY_SETS: Final = tuple([day] for day in WEEKDAYS) * 3 + tuple(
    [a, b] for a, b in itertools.combinations(WEEKDAYS, 2)
)
COURSE_SETS: Final = tuple(list(c) for k in (1, 2, 3) for c in itertools.permutations(COURSES, k))
CERTIFICATION_SETS: Final = tuple(
    list(c) for k in (0, 1, 2) for c in itertools.permutations(CERTIFICATIONS, k)
)
ROLE_SLUGS: Final = {role: slug(role) for role in CONTACT_ROLES}
