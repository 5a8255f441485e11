"""The flag reference of docs/flags.md, written from the parsers themselves so that the
page and ``--help`` cannot drift apart: ``python -m legacy_resnet.programs.flag_docs`` prints
the tables, and tests/test_flag_docs.py checks the page holds them."""

import sys

from legacy_resnet.programs import eval_cli
from legacy_resnet.programs import train_cli

BEGIN = '<!-- flag tables: python -m legacy_resnet.programs.flag_docs -->'
END = '<!-- end of flag tables -->'


def _table(parser):
  formatter = parser._get_formatter()  # pylint: disable=protected-access
  rows = ['| flag | what it does |', '| --- | --- |']
  for action in parser._actions:  # pylint: disable=protected-access
    if not action.option_strings or action.option_strings[0] == '-h':
      continue
    flag = ' / '.join('`%s`' % option for option in action.option_strings)
    if action.choices and action.metavar is None:
      flag += ' {%s}' % ', '.join(map(str, action.choices))
    text = formatter._expand_help(action) if action.help else ''  # pylint: disable=protected-access
    rows.append('| %s | %s |' % (flag, ' '.join(text.split()).replace('|', '\\|')))
  return '\n'.join(rows)


def tables():
  """The markdown between BEGIN and END in docs/flags.md."""
  return '\n\n'.join('### %s\n\n%s' % (parser.prog, _table(parser))
                     for parser in (train_cli.parser(), eval_cli.parser()))


if __name__ == '__main__':
  sys.stdout.write('%s\n%s\n%s\n' % (BEGIN, tables(), END))
