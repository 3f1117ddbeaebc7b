"""Planned comparisons as the researcher writes them: 'A > B; A > C' read into label pairs."""


def parse_comparisons(text: str, labels) -> list[tuple[str, str]]:
    """'A > B; A > C' as label pairs, each once; a problem in any part is a ValueError naming it."""
    pairs: list[tuple[str, str]] = []
    problems: list[str] = []
    for part in (p.strip() for p in text.replace("\n", ";").split(";")):
        if not part:
            continue
        sides = [side.strip() for side in part.split(">")]
        if len(sides) != 2 or not all(sides):
            problems.append(f"'{part}' is not of the form 'A > B'")
            continue
        unknown = [side for side in sides if side not in labels]
        if unknown:
            problems.append(f"'{part}': no method labelled {', '.join(repr(u) for u in unknown)}")
        elif sides[0] == sides[1]:
            problems.append(f"'{part}' compares a method with itself")
        elif (sides[0], sides[1]) not in pairs:
            pairs.append((sides[0], sides[1]))
    if problems:
        raise ValueError("; ".join(problems))
    return pairs
