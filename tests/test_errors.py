import pytest

from tfdpfair.errors import one_line


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "a\x85b", "a\u2028b", "a\u2029b", "a\x0bb\x0cc\x1cd\x1de\x1ef"])
def test_one_line_escapes_every_line_break(text):
    out = one_line(text)
    assert len(out.splitlines()) == 1 and out.startswith("a") and out.isprintable()


def test_one_line_keeps_ordinary_text():
    assert one_line("ε = 1.18; σ ≥ 0 — ok") == "ε = 1.18; σ ≥ 0 — ok"
