#!/usr/bin/env python3
"""Checks the app's translations against its English strings (android/app/src/main/res/values/strings.xml).

Every translatable English string must exist in each values-XX/strings.xml with the same format arguments (%1$s,
%2$02d, ...), and no translation may name a string the English file lacks: a missing string would show English
in the middle of a translated screen, a wrong argument crashes String.format at run time.
Usage: check-translations.py [RES_DIR]   (default: android/app/src/main/res)
"""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

FORMAT = re.compile(r"%(?:\d+\$)?[-#+ 0,(]*\d*(?:\.\d+)?[a-zA-Z%]")


def strings(path):
    root = ET.parse(path).getroot()
    found = {}
    for element in root.iter("string"):
        if element.get("translatable") == "false":
            continue
        text = "".join(element.itertext())
        found[element.get("name")] = sorted(FORMAT.findall(text))
    return found


def main():
    res = Path(sys.argv[1] if len(sys.argv) > 1 else "android/app/src/main/res")
    english = strings(res / "values" / "strings.xml")
    english.pop("app_name", None)
    problems = []
    languages = sorted(p for p in res.glob("values-*/strings.xml"))
    for path in languages:
        language = path.parent.name.removeprefix("values-")
        translated = strings(path)
        for name, arguments in english.items():
            if name not in translated:
                problems.append(f"{language}: {name} is not translated")
            elif translated[name] != arguments:
                problems.append(f"{language}: {name} has arguments {translated[name]}, English {arguments}")
        for name in translated.keys() - english.keys():
            problems.append(f"{language}: {name} is not an English string")
    for problem in problems:
        print(problem, file=sys.stderr)
    names = ", ".join(p.parent.name.removeprefix("values-") for p in languages)
    print(f"translations ({names}): {len(english)} strings each, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
