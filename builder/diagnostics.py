"""Diagnostics shared by every stage: the catalogue of codes and the collector.

Every mistake in content becomes a `Diagnostic` with a stable code, a severity, a
repo-relative path, a 1-based line and column, a Swedish message and a hint. The
message templates live here, keyed by code, so tests can assert on codes and
locations while the wording stays free to improve. Codes are never reused.

This module must not read files or know about any stage's data types.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Entry:
    severity: Severity
    message: str
    hint: str


E, W = Severity.ERROR, Severity.WARNING

#: code -> (default severity, message template, hint template). Placeholders are
#: filled with str.format from the keyword arguments given to `Diagnostics.add`.
CATALOGUE: dict[str, Entry] = {
    # Files
    "FILE-001": Entry(E, "Filen är inte sparad som UTF-8.", "Spara filen som UTF-8 i din editor (”Spara som” → kodning UTF-8)."),
    "FILE-002": Entry(E, "Filen är tom.", "Skriv innehållet i filen eller ta bort den."),
    "FILE-003": Entry(W, "Filen {name} används inte av programmet.", "Steg är .md-filer i en modulmapp, formulär .yaml-filer i forms/. Flytta eller ta bort filen."),
    # YAML
    "YAML-001": Entry(E, "YAML-syntaxen går inte att läsa: {problem}.", "Kontrollera indrag, kolon och citattecken på raden och raden ovanför."),
    "YAML-002": Entry(E, "Raden är indragen med tabb.", "Använd mellanslag för indrag i YAML, aldrig tabb."),
    "YAML-003": Entry(E, "Nyckeln '{key}' finns två gånger.", "Ta bort den ena; annars skriver den sista över den första."),
    "YAML-004": Entry(E, "Filen ska innehålla nycklar och värden (en mappning), inte {found}.", "Börja med till exempel 'title: …' på första raden."),
    # Schema (all YAML and front matter)
    "SCHEMA-001": Entry(E, "Okänd nyckel '{key}'.", "{suggestion}"),
    "SCHEMA-002": Entry(E, "Nyckeln '{key}' saknas.", "Lägg till '{key}: …'."),
    "SCHEMA-003": Entry(E, "'{key}' har fel sorts värde: {problem}.", "{expected}"),
    "SCHEMA-004": Entry(E, "'{key}' kan inte vara {value}.", "Tillåtna värden: {allowed}.{suggestion}"),
    "SCHEMA-005": Entry(E, "Id:t {value} är inte giltigt.", "Använd små bokstäver a–z, siffror och bindestreck, till exempel 'fysisk-aktivitet'."),
    # Program
    "PROGRAM-001": Entry(E, "Programmappen saknar program.yaml.", "Skapa program.yaml med id, title, version, language, publisher och modules."),
    "PROGRAM-002": Entry(E, "Versionen {value} följer inte semver.", "Skriv versionen som MAJOR.MINOR.PATCH, till exempel 1.0.0."),
    "PROGRAM-003": Entry(E, "Modulen '{module}' finns inte i modules/.", "{suggestion}"),
    "PROGRAM-004": Entry(W, "Modulmappen {folder} finns men står inte i program.yaml.", "Lägg till '- {module}' under modules: i program.yaml, eller ta bort mappen."),
    "PROGRAM-005": Entry(E, "Modulen '{module}' står flera gånger under modules:.", "Ta bort dubbletten."),
    "PROGRAM-006": Entry(E, "Programmet har inga moduler.", "Lista modulernas id under modules: i program.yaml."),
    # Overlays
    "OVERLAY-001": Entry(E, "Basprogrammet {target} finns inte.", "extends: ska peka på en mapp med program.yaml eller på basens byggda paket (en zip som dist/framat-1.0.0.zip eller en paketmapp som dist/framat/1.0.0), räknat från överlagringens program.yaml (t.ex. ../../content)."),
    "OVERLAY-002": Entry(E, "Överlagringarna bygger på varandra i en cirkel: {cycle}.", "Låt basprogrammet vara ett program utan extends: någonstans i kedjan."),
    "OVERLAY-003": Entry(E, "{what} '{name}' finns inte i basprogrammet.", "Ange id:t som det står i basen.{suggestion}"),
    "OVERLAY-004": Entry(E, "Basprogrammet har inte längre {target}, som överlagringen ersätter.", "Basen har tagit bort eller bytt namn på filen. Flytta regionens ändring till basens nya fil, eller gör filen till ett eget tillägg, och kör stegvis drift --accept."),
    "OVERLAY-005": Entry(E, "Överlagringen anger inte '{key}'.", "En överlagring är ett eget program: ange id, title, version och publisher i dess program.yaml."),
    "OVERLAY-006": Entry(E, "Överlagringen har samma id som basprogrammet ('{value}').", "Ge regionens program ett eget id, t.ex. '{value}-region'."),
    "OVERLAY-007": Entry(E, "Baspaketet {target} går inte att läsa: {problem}.", "extends: kan peka på ett paket som stegvis har byggt (dist/<id>-<version>.zip eller dist/<id>/<version>). Hämta paketet igen från basens utgivare, eller peka på basens programmapp."),
    "OVERLAY-008": Entry(E, "Baspaketet {target} stämmer inte med sitt manifest: {problem}.", "Paketet har ändrats efter bygget eller skadats på vägen. Ändra aldrig i ett byggt paket: hämta det igen från basens utgivare och jämför dess sha256."),
    "OVERLAY-009": Entry(E, "Baspaketet {target} saknar källfiler (source/).", "Paketet saknar källfiler; bygg basen med en version av stegvis som packar källorna (stegvis build), eller peka extends: på basens programmapp."),
    "OVERLAY-101": Entry(W, "Basprogrammet har ändrat {target} sedan överlagringen senast godkände den.", "Kör stegvis drift {overlay} för att se ändringen, uppdatera regionens fil och godkänn med --accept {target}."),
    "OVERLAY-102": Entry(W, "Överlagringen ersätter {target} utan att ha godkänt basens version.", "Kör stegvis drift {overlay} --accept {target} så att en senare ändring i basen märks."),
    # Regional words (`terms:` in an overlay's program.yaml, issue 17)
    "OVERLAY-103": Entry(W, "Basprogrammet har en ny förekomst av ”{word}” i {target}, som överlagringen byter ut (terms: {term}).", "Kör stegvis terms {overlay} för att se meningen före och efter, och godkänn med stegvis drift {overlay} --accept {target}."),
    "OVERLAY-104": Entry(E, "Termen {term} under terms: går inte att använda: {problem}.", "Skriv basens ord och regionens ord, t.ex. vårdcentral: hälsocentral, med bokstäver, siffror, mellanslag, bindestreck eller punkt."),
    "OVERLAY-105": Entry(E, "Termen '{term}' byts mot sig själv.", "Ta bort raden, eller skriv regionens ord efter kolonet. Stor bokstav i början av en mening sköts av sig själv."),
    "OVERLAY-106": Entry(W, "Termerna '{term}' och '{other}' överlappar: '{other}' finns i '{term}'.", "Där båda passar används den längre, '{term}'. Böjningar (vårdcentralen, vårdcentraler …) ersätts redan av grundformen; ta bort den ena termen om den inte behövs."),
    "OVERLAY-107": Entry(E, "Termen '{term}' finns redan som '{other}'.", "Skriv varje ord en gång, med små bokstäver; stor bokstav i början av en mening och VERSALER ersätts av sig själva."),
    "OVERLAY-108": Entry(E, "terms: finns bara i en regional överlagring, och det här programmet har ingen extends:.", "Skriv regionens ord direkt i texten, eller flytta terms: till överlagringens program.yaml."),
    # Translations (issue 18): a variant of a program in another language, same ids
    "TRANS-001": Entry(W, "Översättningen kan vara äldre än källtexten: {count} stycken i {source} har ändrats sedan de översattes.", "Kör stegvis translate status för att se ändringarna ord för ord, uppdatera översättningen (stegvis translate export, sedan import). Tills dess visar sidan en not om att översättningen kan vara äldre."),
    "TRANS-002": Entry(W, "Steget {step} är inte översatt till {language} och lämnas bort ur paketet.", "Översätt steget (stegvis translate export/import), eller låt modulen vänta tills alla steg är översatta. Text som inte finns på språket skickas aldrig med."),
    "TRANS-003": Entry(E, "{what} {name} finns inte i basprogrammet.", "En översättning har bara basens moduler, steg, formulär och aktivitetsplaner, med samma mapp- och filnamn.{suggestion}"),
    "TRANS-004": Entry(E, "Översättningen har inte samma uppbyggnad eller id:n som basen: {problem}.", "Bara texten översätts: id:n, svarsalternativens värden, frågetyper, block och listor är desamma som i basen, så att svar i en språkversion gäller i de andra. Skriv filen med stegvis translate import, eller rätta den efter basens fil."),
    "TRANS-005": Entry(E, "En översättning behöver nyckeln {key} i program.yaml.", "Skriv till exempel translates: ../../content och language: fi (språkkoden enligt BCP 47)."),
    "TRANS-006": Entry(E, "Modulen {name} saknar module.yaml i översättningen.", "Översätt modulens module.yaml (titel och beskrivning) med stegvis translate export/import."),
    # Voices (issue 18)
    "VOICE-001": Entry(W, "Det finns ingen röst för språket {language} i {engine}; programmet byggs utan uppläsning.", "Installera en röst för språket (espeak-ng --voices visar vilka som finns), bygg med --no-audio, eller stäng av uppläsningen med audio: false i stegen."),
    # The builder's own words on pages and in PDFs (issue 18)
    "PAGES-001": Entry(W, "Sidornas egna texter (länkar, knappar, rubriker och sidfötter som stegvis skriver) finns inte på språket {language} och visas på svenska.", "Lägg till en katalog för språket, {catalogue}, med pybabel init (docs/translations.md visar hur), eller tysta varningen med silence: [PAGES-001]."),
    "OVERLAY-109": Entry(W, "Regionens egen fil har ordet ”{word}”, som terms: byter mot ”{target}” i basens text.", "Överlagringens egna filer skrivs aldrig om. Skriv ”{target}” här också, eller tysta varningen med silence: [OVERLAY-109] om ordet ska stå kvar."),
    # Modules
    "MODULE-001": Entry(E, "Modulmappen {folder} saknar module.yaml.", "Skapa module.yaml med title, kind och start."),
    "MODULE-002": Entry(E, "Modulen '{module}' har inga steg.", "Lägg till minst ett steg som NN-namn.md i modulmappen."),
    "MODULE-003": Entry(E, "Två modulmappar har samma id '{module}': {folders}.", "Byt namn på den ena mappen."),
    # Steps
    "STEP-001": Entry(E, "Steget saknar inledande front matter (--- … ---).", "Börja filen med ---, sedan title: och section:, och avsluta med ---."),
    "STEP-002": Entry(E, "Två steg i modulen har samma id '{step}': {files}.", "Byt namn på den ena filen; id:t är filnamnet utan NN- och .md."),
    "STEP-003": Entry(E, "Front matter avslutas aldrig.", "Lägg till en rad med bara --- efter sista nyckeln."),
    "STEP-004": Entry(E, "Steget har ingen text efter front matter.", "Skriv stegets text, med början i '# Rubrik'."),
    # Sources of a step (issue 17)
    "STEP-005": Entry(E, "Källans adress {value} är inte en webbadress med https://.", "Skriv hela adressen med början i https://, t.ex. url: https://www.1177.se/. Kopiera den från webbläsarens adressfält."),
    "STEP-006": Entry(E, "Källan är läst {value}, ett datum som inte har kommit än.", "Skriv dagen då du läste källan (senast i dag, {today}) som ÅÅÅÅ-MM-DD, t.ex. read: {today}."),
    "STEP-007": Entry(W, "Steget ger råd men anger ingen källa.", "Lägg till sources: i front matter, med title, publisher, url och read för varje källa. Modulen har sources_required: true; ett steg utan råd kan ha sources_required: false."),
    "STEP-008": Entry(W, "Källan står som text i steget: ”{text}”.", "Skriv källan under sources: i front matter, med adress och datum, och ta bort raden ur texten. Då visas den som en lista med länkar och läses inte upp."),
    # Markdown and blocks
    "BLOCK-001": Entry(E, "Okänt block '::: {name}'.", "Tillåtna block: form, video, audio, callout.{suggestion}"),
    "BLOCK-002": Entry(E, "Blocket '::: {name}' saknar {what}.", "{hint}"),
    "BLOCK-003": Entry(E, "Blocket '::: {name}' har en rad som inte går att läsa: {text}.", "Skriv inställningar som 'nyckel: värde', en per rad."),
    "BLOCK-006": Entry(E, "Blocket '::: {name}' har en okänd inställning '{key}'.", "Tillåtna inställningar: {allowed}.{suggestion}"),
    "BLOCK-004": Entry(E, "Blocket '::: {name}' avslutas aldrig.", "Avsluta blocket med en rad med bara :::."),
    "BLOCK-005": Entry(E, "Rutan har typen '{value}'.", "Skriv '::: callout info', '::: callout tip' eller '::: callout warning'.{suggestion}"),
    # References
    "REF-001": Entry(E, "Formuläret '{form}' finns inte.", "Formulär ligger som forms/<id>.yaml.{suggestion}"),
    "REF-002": Entry(E, "Länken går till {target}, som inte är ett steg i programmet.", "Länka till stegets .md-fil räknat från det här steget, t.ex. ../03-fysisk-aktivitet/02-varfor.md.{suggestion}"),
    "REF-003": Entry(E, "Filen {target} finns inte i media/.", "Sökvägen räknas inuti media/. Kontrollera stavning och stora/små bokstäver.{suggestion}"),
    "REF-004": Entry(E, "Sökvägen {target} pekar utanför programmappen.", "Lägg filen i media/ och skriv sökvägen inuti media/, utan '..' eller '/' först."),
    "REF-005": Entry(E, "Länken {target} har en adress som inte stöds.", "Länka till ett steg (.md), till webben med https://, eller till mailto:/tel:."),
    "REF-006": Entry(E, "Aktivitetsplanen '{plan}' finns inte.", "Aktivitetsplaner ligger som activity-plans/<id>.yaml.{suggestion}"),
    "REF-007": Entry(W, "Formuläret '{form}' används inte i något steg.", "Lägg till '::: form {form}' i ett steg, eller ta bort formuläret."),
    "REF-008": Entry(E, "Textfilen {target} är inte en textningsfil.", "Textning skrivs som WebVTT (.vtt) eller SRT (.srt)."),
    # Captions of films
    "CAPTION-001": Entry(E, "Textningen i {target} går inte att läsa: {detail}.", "En WebVTT-fil börjar med WEBVTT; varje replik har en tidsrad som 00:00:01.000 --> 00:00:04.000 och text."),
    "CAPTION-002": Entry(E, "Textningen i {target} har fel tider: {detail}.", "Varje replik ska sluta efter att den börjar, och replikerna ska komma i tidsordning."),
    "CAPTION-003": Entry(E, "Textningen i {target} har repliker som överlappar: {detail}.", "Låt varje replik sluta innan nästa börjar, annars döljer de varandra."),
    "CAPTION-004": Entry(E, "Textningen i {target} saknar text: {detail}.", "Skriv vad som sägs i varje replik, eller ta bort repliken."),
    # Films made from a storyboard (media/**/*.yaml, issue 17)
    "FILM-001": Entry(E, "Filmmanuset har inga scener.", "Lägg till scener under scenes:, var och en med image:, alt: och narration:."),
    "FILM-002": Entry(E, "Scen {scene} ({image}) saknar alternativtext.", "Skriv under alt: vad bilden visar. Texten står i filmens transkription för den som inte ser bilden."),
    "FILM-003": Entry(E, "Scen {scene} saknar berättartext.", "Skriv under narration: vad rösten säger medan bilden visas, en eller flera meningar."),
    "FILM-004": Entry(E, "Bilden {target} kan inte visas i en film.", "Använd en bild i SVG, PNG eller JPEG, t.ex. bilder/promenad.svg."),
    "FILM-005": Entry(E, "Filmen görs från manuset {target}, så '{key}' ska inte anges.", "Ta bort raden '{key}: …'. Textning och transkription skapas från manusets berättartext och alternativtexter."),
    "FILM-006": Entry(W, "Filmmanuset {target} används inte i något steg.", "Visa filmen med '::: video {target}' i ett steg, eller ta bort manuset."),
    "FILM-007": Entry(W, "Scen {scene} har {words} ord berättartext (gränsen är {limit}).", "Dela scenen i två med var sin bild. En bild som står still länge tappar tittaren."),
    # Accessibility
    "A11Y-001": Entry(E, "Bilden {target} saknar alternativtext.", "Skriv vad bilden visar: ![Två personer promenerar i skogen]({target})."),
    "A11Y-002": Entry(E, "Filmen saknar textning och transkription.", "Lägg till 'captions: film/namn.sv.vtt' eller 'transcript: film/namn.md' i blocket."),
    "A11Y-003": Entry(E, "Rubriken hoppar från nivå {prev} till nivå {level}.", "Använd nivå {expected} här ({hashes}), så att skärmläsare kan följa strukturen."),
    "A11Y-004": Entry(W, "Länktexten '{text}' säger inte vart länken leder.", "Skriv vart länken går, t.ex. 'Läs mer om sömn' i stället för 'klicka här'."),
    "A11Y-005": Entry(W, "Steget har flera rubriker på nivå 1.", "Ha en enda '# Rubrik' först och använd '##' för underrubriker."),
    "A11Y-006": Entry(E, "Ljudet saknar transkription.", "Lägg till 'transcript: ljud/namn.md' i blocket."),
    "A11Y-007": Entry(E, "Bilden i frågan '{question}' saknar alternativtext.", "Lägg till 'alt: …' som beskriver bilden."),
    "A11Y-008": Entry(W, "Stegets första rubrik är inte på nivå 1.", "Börja texten med '# {title}'."),
    # Forms and questions
    "FORM-001": Entry(E, "Frågan '{question}' av typen {type} saknar svarsalternativ.", "Lägg till options: med minst två alternativ, t.ex. - {{value: ja, label: Ja}}."),
    "FORM-002": Entry(E, "Skalan i frågan '{question}' har min {min} som inte är mindre än max {max}.", "Sätt min lägre än max, t.ex. min: 0 och max: 10."),
    "FORM-003": Entry(E, "Fråge-id:t '{question}' finns flera gånger.", "Ge varje fråga ett eget id."),
    "FORM-004": Entry(E, "show_if hänvisar till '{question}', som inte är en tidigare fråga.", "show_if kan bara bero på en fråga som kommer före.{suggestion}"),
    "FORM-005": Entry(E, "Poängräkningen hänvisar till '{question}', {problem}.", "Räkna bara frågor av typen single/multi med points, eller scale/number.{suggestion}"),
    "FORM-006": Entry(E, "Tolkningarna i {where} {problem}.", "Banden ska täcka {low}–{high} utan luckor eller överlapp, i stigande ordning."),
    "FORM-007": Entry(E, "Svarsalternativet '{value}' finns flera gånger i frågan '{question}'.", "Ge varje alternativ ett eget value."),
    "FORM-008": Entry(E, "Formuläret har inga frågor.", "Lägg till minst en fråga under questions:."),
    "FORM-009": Entry(E, "Frågan '{question}' har {field}, som inte hör till typen {type}.", "Fältet {field} används av typerna {types}."),
    "FORM-010": Entry(E, "show_if i frågan '{question}' jämför med '{value}', som inte är ett alternativ i '{target}'.", "Använd ett av alternativen: {allowed}."),
    "FORM-011": Entry(E, "Frågan '{question}' har min {min} som är större än max {max}.", "Sätt min lägre än max."),
    # Exclusive options and bands by sex (issue 17)
    "FORM-012": Entry(E, "Svarsalternativet '{value}' i frågan '{question}' har exclusive, men frågan har typen {type}.", "exclusive: true gäller bara frågor av typen multi, där man annars kan välja flera alternativ. Ta bort exclusive, eller gör frågan till type: multi."),
    "FORM-013": Entry(E, "Alla svarsalternativ i frågan '{question}' har exclusive: true.", "Då kan man bara välja ett alternativ: skriv type: single i stället, eller ha exclusive bara på alternativ som ”Inget av detta” och ”Vet inte”."),
    "FORM-014": Entry(E, "Poängräkningen har både bands och bands_by_sex.", "Skriv bands när tolkningen är densamma för alla, eller bands_by_sex med kvinna: och man: när gränserna skiljer sig mellan kvinnor och män. Ta bort det ena."),
    # Activity plans
    "PLAN-001": Entry(E, "Okänd veckodag '{value}'.", "Skriv veckodagen på svenska: måndag, tisdag, onsdag, torsdag, fredag, lördag eller söndag.{suggestion}"),
    "PLAN-002": Entry(E, "Klockslaget '{value}' är inte giltigt.", "Skriv klockslag som TT:MM, t.ex. 18:00."),
    "PLAN-003": Entry(E, "results.field '{field}' är inte ett fält i planen.", "Välj ett av planens fält av typen number, scale, duration, time eller single.{suggestion}"),
    "PLAN-004": Entry(E, "Schemat har inga dagar.", "Ange minst en dag under schedule.days, t.ex. måndag: 18:00."),
    "PLAN-005": Entry(E, "goal_from hänvisar till fältet '{field}' i planen '{plan}', som inte finns.", "Ange en plan i activity-plans/ och ett av dess fält.{suggestion}"),
    "PLAN-006": Entry(E, "results har både goal och goal_from.", "Välj ett fast mål (goal) eller ett mål från en annan plan (goal_from)."),
    # Field types of diaries as activity plans (issue 17)
    "PLAN-007": Entry(E, "Fältet '{field}' av typen {type} kan inte visas i ett diagram.", "Välj under results.field ett fält av typen number, scale, duration, time eller single.{suggestion}"),
    "PLAN-008": Entry(E, "Tidslängden i fältet '{question}' har {key} {value}, {problem}.", "Skriv min och max i hela minuter från 0 till 1440 (ett dygn), min lägre än max, t.ex. min: 0 och max: 720."),
    "PLAN-009": Entry(E, "Diagrammet för fältet '{field}' av typen {type} kan inte visa ett mål.", "Ta bort {key}. Ett mål går att visa för fält av typen number, scale och duration."),
    "PLAN-010": Entry(W, "Skalan i fältet '{question}' förklarar inte {ends}.", "Skriv vad ändarna betyder under labels, t.ex. labels: {{0: Ingen smärta, 10: Värsta tänkbara smärta}}."),
    # Readability
    "READ-001": Entry(W, "Steget har LIX {lix} ({level}), över gränsen {limit}.", "Korta meningarna och välj kortare ord. Målet är LIX 40 eller lägre."),
    "READ-002": Entry(W, "Meningen har {words} ord (gränsen är {limit}): ”{start}…”", "Dela meningen i två eller flera. Korta meningar är lättare att läsa och att lyssna på."),
    "READ-003": Entry(W, "”{phrase}” är krångligt språk.", "Skriv hellre ”{instead}”."),
    "READ-004": Entry(W, "”{found}” stavas ”{preferred}” i programmet.", "Skriv ”{preferred}” överallt, så att texten och uppläsningen blir lika."),
    # Package
    "PACKAGE-001": Entry(E, "Version {version} av {program} är redan släppt med annat innehåll.", "En släppt version ändras aldrig. Höj version i program.yaml (t.ex. till {next}) och bygg igen."),
    "PACKAGE-002": Entry(E, "Version {version} är för låg för ändringarna sedan version {previous}: {count} av klassen {level}, t.ex. {change}.", "Höj version i program.yaml till minst {required} och bygg igen. Klassen {level} {meaning}. Se alla ändringar med stegvis diff."),
}


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding about the content. Ordered by location for printing."""

    path: str
    line: int
    col: int
    code: str
    severity: Severity = field(compare=False)
    message: str = field(compare=False)
    hint: str = field(compare=False)

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


_FOLD = str.maketrans("åäöéü", "aaoeu")


def _fold(word: str) -> str:
    return word.lower().translate(_FOLD)


def did_you_mean(word: str, candidates: Iterable[str], prefix: str = " Menade du ") -> str:
    """Return a Swedish "did you mean" suffix for the closest candidate, or ''.

    Compares without case and diacritics, so "mondag" finds "måndag".
    """
    folded: dict[str, str] = {}
    for candidate in sorted(set(map(str, candidates))):
        folded.setdefault(_fold(candidate), candidate)
    match = difflib.get_close_matches(_fold(str(word)), list(folded), n=1, cutoff=0.6)
    return f"{prefix}'{folded[match[0]]}'?" if match else ""


class Diagnostics:
    """Collects every diagnostic of a run; never stops at the first."""

    def __init__(self, silenced: Iterable[str] = ()) -> None:
        self._items: set[Diagnostic] = set()
        self.silenced = frozenset(silenced)

    def add(self, code: str, path: str, line: int = 1, col: int = 1, **params: object) -> None:
        entry = CATALOGUE[code]
        if code in self.silenced and entry.severity is Severity.WARNING:
            return
        params.setdefault("suggestion", "")
        message = entry.message.format(**params)
        hint = entry.hint.format(**params).strip()
        self._items.add(Diagnostic(path, max(line, 1), max(col, 1), code, entry.severity, message, hint))

    def extend(self, other: Diagnostics) -> None:
        self._items |= other._items

    def add_items(self, items: Iterable[Diagnostic]) -> None:
        """Add diagnostics made earlier (replayed from a build state or a memo)."""
        self._items.update(items)

    @property
    def items(self) -> list[Diagnostic]:
        return sorted(self._items)

    def errors(self, strict: bool = False) -> list[Diagnostic]:
        return [d for d in self.items if strict or d.severity is Severity.ERROR]

    def has_errors(self, strict: bool = False) -> bool:
        return bool(self.errors(strict))

    def __len__(self) -> int:
        return len(self._items)


def format_diagnostics(items: list[Diagnostic], fmt: str, strict: bool = False) -> str:
    """Render diagnostics as 'text' (people), 'json' (tools) or 'github' (annotations)."""

    def severity(d: Diagnostic) -> str:
        return "error" if strict else d.severity.value

    if fmt == "json":
        return json.dumps(
            [d.as_dict() | {"severity": severity(d)} for d in items], ensure_ascii=False, indent=2
        )
    lines = []
    for d in items:
        if fmt == "github":
            kind = "error" if severity(d) == "error" else "warning"
            text = f"{d.message} Tips: {d.hint}".replace("%", "%25").replace("\n", "%0A")
            lines.append(f"::{kind} file={d.path},line={d.line},col={d.col},title={d.code}::{text}")
        else:
            lines.append(f"{d.path}:{d.line}:{d.col}: {severity(d)} {d.code}: {d.message}")
            lines.append(f"    Tips: {d.hint}")
    if fmt == "text" and items:
        n_err = sum(1 for d in items if severity(d) == "error")
        lines.append(f"{n_err} fel, {len(items) - n_err} varningar.")
    return "\n".join(lines)


def catalogue_markdown() -> str:
    """docs/diagnostics.md, generated from the catalogue (a test keeps it current)."""
    lines = [
        "# Felkoder",
        "",
        "Genererad från `builder/diagnostics.py` med `python -m builder.diagnostics > docs/diagnostics.md`.",
        "Koderna är stabila och återanvänds aldrig. Varningar kan tystas med `silence: [KOD]` i",
        "program.yaml; `--strict` gör varningar till fel.",
        "",
        "| kod | allvar | meddelande | tips |",
        "|---|---|---|---|",
    ]
    for code, entry in CATALOGUE.items():
        severity = "fel" if entry.severity is Severity.ERROR else "varning"
        message = entry.message.replace("|", "\\|").replace("{suggestion}", "")
        hint = entry.hint.replace("|", "\\|").replace("{suggestion}", "").strip()
        lines.append(f"| `{code}` | {severity} | {message} | {hint} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
