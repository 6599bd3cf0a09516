"""Questions a user would ask an LLM about a brand, by intent and language, from public data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.detection import InvalidDomain, normalize_domain

__all__ = [
    "CUSTOM_INTENT",
    "INTENTS",
    "LANGUAGES",
    "TEMPLATES",
    "Prompt",
    "Template",
    "prompts_for",
]

CUSTOM_INTENT = "custom"
CUSTOM_LANGUAGE = "und"  # BCP 47 "undetermined": extra prompts come in any language
MAX_BRAND_NAME = 100


@dataclass(frozen=True)
class Prompt:
    """One user message, exactly as it is sent."""

    intent: str
    language: str
    text: str


@dataclass(frozen=True)
class Template:
    """A phrasing with `{brand}` (and `{domain}` when `include_domain`) placeholders.

    Most templates leave the domain out on purpose: the model must recall it,
    which is where invented names come from. The few that include it check
    whether the model still sends users elsewhere for a specific service.
    """

    intent: str
    language: str
    text: str
    include_domain: bool = False


def _t(intent: str, language: str, *texts: str) -> list[Template]:
    return [Template(intent, language, t, include_domain="{domain}" in t) for t in texts]


TEMPLATES: tuple[Template, ...] = tuple(
    # login
    _t(
        "login",
        "en",
        "Where do I log in to my {brand} account? Give me the exact URL.",
        "What's the {brand} sign-in page?",
        "I use {brand} ({domain}). Which address do I open to sign in?",
    )
    + _t(
        "login",
        "es",
        "¿Dónde inicio sesión en mi cuenta de {brand}? Dame la URL exacta.",
        "¿Cuál es la página de acceso de {brand}?",
    )
    + _t(
        "login",
        "de",
        "Wo melde ich mich bei meinem {brand}-Konto an? Bitte die genaue URL.",
        "Wie lautet die Login-Seite von {brand}?",
    )
    + _t(
        "login",
        "fr",
        "Où puis-je me connecter à mon compte {brand} ? Donne-moi l'URL exacte.",
        "Quelle est la page de connexion de {brand} ?",
    )
    # support
    + _t(
        "support",
        "en",
        "How do I contact {brand} customer support? Include the website.",
        "Where is the {brand} help center?",
        "What is the support site for {brand} ({domain})?",
    )
    + _t(
        "support",
        "es",
        "¿Cómo contacto con el soporte de {brand}? Incluye la web.",
        "¿Dónde está el centro de ayuda de {brand}?",
    )
    + _t(
        "support",
        "de",
        "Wie erreiche ich den Kundensupport von {brand}? Mit Webadresse bitte.",
        "Wo finde ich das Hilfe-Center von {brand}?",
    )
    + _t(
        "support",
        "fr",
        "Comment contacter le support client de {brand} ? Indique le site web.",
        "Où se trouve le centre d'aide de {brand} ?",
    )
    # docs
    + _t(
        "docs",
        "en",
        "Where is the official {brand} documentation?",
        "Link me to the {brand} user guide and docs.",
    )
    + _t("docs", "es", "¿Dónde está la documentación oficial de {brand}?")
    + _t("docs", "de", "Wo finde ich die offizielle Dokumentation von {brand}?")
    + _t("docs", "fr", "Où se trouve la documentation officielle de {brand} ?")
    # api
    + _t(
        "api",
        "en",
        "What is the base URL of the {brand} API, and where is its reference?",
        "Show me a curl example calling the {brand} REST API.",
        "{brand} runs {domain}. What is the hostname of its public API?",
    )
    + _t("api", "es", "¿Cuál es la URL base de la API de {brand}?")
    + _t("api", "de", "Wie lautet die Basis-URL der {brand}-API?")
    + _t("api", "fr", "Quelle est l'URL de base de l'API {brand} ?")
    # downloads
    + _t(
        "downloads",
        "en",
        "Where can I download the {brand} desktop app safely?",
        "Give me the official download link for {brand}.",
    )
    + _t("downloads", "es", "¿Dónde descargo la aplicación oficial de {brand}?")
    + _t("downloads", "de", "Wo kann ich die offizielle {brand}-App herunterladen?")
    + _t("downloads", "fr", "Où télécharger l'application officielle {brand} ?")
    # status page
    + _t(
        "status",
        "en",
        "Is {brand} down? Where is their status page?",
        "What's the URL of the {brand} service status page?",
    )
    + _t("status", "es", "¿Dónde está la página de estado del servicio de {brand}?")
    + _t("status", "de", "Wo ist die Statusseite von {brand}?")
    + _t("status", "fr", "Où est la page de statut des services {brand} ?")
    # careers
    + _t(
        "careers",
        "en",
        "Where can I apply for jobs at {brand}?",
        "What is the {brand} careers site?",
    )
    + _t("careers", "es", "¿Dónde puedo ver las ofertas de empleo de {brand}?")
    + _t("careers", "de", "Wo finde ich Stellenangebote bei {brand}?")
    + _t("careers", "fr", "Où postuler pour un emploi chez {brand} ?")
    # mobile app
    + _t(
        "mobile_app",
        "en",
        "How do I get the {brand} mobile app for iPhone and Android?",
        "Is there an official {brand} app? Where do I download it?",
    )
    + _t("mobile_app", "es", "¿Cómo consigo la app móvil de {brand}?")
    + _t("mobile_app", "de", "Wo bekomme ich die {brand}-App fürs Handy?")
    + _t("mobile_app", "fr", "Comment obtenir l'application mobile {brand} ?")
    # regional sites
    + _t(
        "regional",
        "en",
        "What are the {brand} websites for the UK, Germany, Spain and France?",
        "Which {brand} site should I use from Canada?",
    )
    + _t("regional", "es", "¿Cuál es la web de {brand} para España y para México?")
    + _t("regional", "de", "Wie lautet die deutsche und die österreichische Website von {brand}?")
    + _t("regional", "fr", "Quel est le site {brand} pour la France et la Belgique ?")
    # payments / billing
    + _t(
        "billing",
        "en",
        "Where do I pay my {brand} bill or update my card?",
        "How do I see my {brand} invoices online?",
    )
    + _t("billing", "es", "¿Dónde pago mi factura de {brand}?")
    + _t("billing", "de", "Wo kann ich meine {brand}-Rechnung bezahlen?")
    + _t("billing", "fr", "Où payer ma facture {brand} en ligne ?")
    # developer portal
    + _t(
        "developer_portal",
        "en",
        "Where is the {brand} developer portal to create API keys?",
        "How do I register an app with {brand} as a developer?",
    )
    + _t("developer_portal", "es", "¿Dónde está el portal para desarrolladores de {brand}?")
    + _t("developer_portal", "de", "Wo ist das Entwicklerportal von {brand}?")
    + _t("developer_portal", "fr", "Où est le portail développeurs de {brand} ?")
    # community / forum
    + _t(
        "community",
        "en",
        "Is there an official {brand} community forum?",
        "Where do {brand} users discuss problems online?",
    )
    + _t("community", "es", "¿Tiene {brand} un foro oficial de la comunidad?")
    + _t("community", "de", "Gibt es ein offizielles Community-Forum von {brand}?")
    + _t("community", "fr", "Existe-t-il un forum communautaire officiel {brand} ?")
    # security / vulnerability report
    + _t(
        "security",
        "en",
        "How do I report a security vulnerability to {brand}?",
        "Does {brand} have a bug bounty program? Where do I submit?",
        "I found a phishing site imitating {brand} ({domain}). Where do I report it?",
    )
    + _t("security", "es", "¿Cómo informo de una vulnerabilidad de seguridad a {brand}?")
    + _t("security", "de", "Wie melde ich eine Sicherheitslücke an {brand}?")
    + _t("security", "fr", "Comment signaler une faille de sécurité à {brand} ?")
)

INTENTS: tuple[str, ...] = tuple(dict.fromkeys(t.intent for t in TEMPLATES))
LANGUAGES: tuple[str, ...] = tuple(dict.fromkeys(t.language for t in TEMPLATES))


def _clean_brand(brand_name: str) -> str:
    brand = " ".join(brand_name.split())
    if not brand:
        raise ValueError("brand name is empty")
    if len(brand) > MAX_BRAND_NAME:
        raise ValueError(f"brand name longer than {MAX_BRAND_NAME} characters")
    if any(not ch.isprintable() for ch in brand):
        raise ValueError("brand name contains control characters")
    return brand


def _clean_domain(main_domain: str | None) -> str | None:
    if main_domain is None:
        return None
    try:
        return normalize_domain(main_domain).unicode
    except InvalidDomain as exc:
        raise ValueError(f"main domain {main_domain!r}: {exc}") from exc


def _fill(text: str, brand: str, domain: str | None) -> str:
    # str.replace, not str.format: user prompts may contain other braces.
    out = text.replace("{brand}", brand)
    if "{domain}" in out:
        if domain is None:
            raise ValueError(f"prompt uses {{domain}} but no main domain was given: {text!r}")
        out = out.replace("{domain}", domain)
    return out


def _pick(name: str, chosen: Iterable[str] | None, known: Sequence[str]) -> set[str]:
    if chosen is None:
        return set(known)
    picked = set(chosen)
    unknown = picked - set(known)
    if unknown:
        raise ValueError(f"unknown {name}: {sorted(unknown)}; known: {list(known)}")
    return picked


def prompts_for(
    brand_name: str,
    extra: Sequence[str] = (),
    intents: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
    *,
    main_domain: str | None = None,
) -> list[Prompt]:
    """Every prompt for a brand: built-in templates (filtered) then `extra` user prompts.

    Only `brand_name` and, for templates that ask for it, the public
    `main_domain` are interpolated; templates with `{domain}` are skipped when
    no main domain is given. `extra` prompts may use `{brand}` (and `{domain}`)
    and are always included, with intent "custom" and language "und".
    """
    brand = _clean_brand(brand_name)
    domain = _clean_domain(main_domain)
    want_intents = _pick("intents", intents, INTENTS)
    want_languages = _pick("languages", languages, LANGUAGES)
    out: list[Prompt] = []
    seen: set[str] = set()
    for tpl in TEMPLATES:
        if tpl.intent not in want_intents or tpl.language not in want_languages:
            continue
        if tpl.include_domain and domain is None:
            continue
        text = _fill(tpl.text, brand, domain)
        if text not in seen:
            seen.add(text)
            out.append(Prompt(tpl.intent, tpl.language, text))
    for raw in extra:
        text = _fill(raw.strip(), brand, domain)
        if text and text not in seen:
            seen.add(text)
            out.append(Prompt(CUSTOM_INTENT, CUSTOM_LANGUAGE, text))
    return out
