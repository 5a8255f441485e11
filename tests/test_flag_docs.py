"""docs/flags.md holds the flag tables of the parsers as they are."""

import os

from scriptutil import ROOT

from legacy_resnet.programs import flag_docs


def test_the_flag_page_matches_the_parsers():
  with open(os.path.join(ROOT, 'docs', 'flags.md'), encoding='utf-8') as stream:
    page = stream.read()
  assert flag_docs.BEGIN in page and flag_docs.END in page
  written = page.split(flag_docs.BEGIN)[1].split(flag_docs.END)[0].strip()
  assert written == flag_docs.tables(), (
      'docs/flags.md differs from --help; rewrite its tables with: '
      'python -m legacy_resnet.programs.flag_docs')
