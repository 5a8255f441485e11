"""The flag tables of docs/flags.md, printed by ``python -m legacy_resnet.programs.flag_docs``
from the parsers themselves, so that the page and ``--help`` cannot drift apart."""

import argparse
import sys

from legacy_resnet.programs import eval_cli
from legacy_resnet.programs import train_cli
from legacy_resnet.settings import declaration

BEGIN = '<!-- flag tables: python -m legacy_resnet.programs.flag_docs -->'
END = '<!-- end of flag tables -->'
# What each kind of value allows, by the function that parses it.
_ALLOWED = {kind.parse: kind.allowed for kind in vars(declaration).values()
            if isinstance(kind, declaration.Kind)}


def _values(action):
  """What a flag accepts, in a few words."""
  if isinstance(action, argparse.BooleanOptionalAction):
    return declaration.SWITCH.allowed
  if not action.nargs and isinstance(action, argparse._StoreConstAction):  # pylint: disable=protected-access
    return 'switch'
  values = (', '.join(map(str, action.choices)) if action.choices
            else _ALLOWED.get(action.type, declaration.TEXT.allowed))
  return values + (' ...' if action.nargs in ('+', 2) else '')


def table(parser):
  """The markdown table of ``parser``'s flags: name, values, help."""
  formatter = parser._get_formatter()  # pylint: disable=protected-access
  rows = ['| flag | values | what it does |', '| --- | --- | --- |']
  for action in parser._actions:  # pylint: disable=protected-access
    if not action.option_strings or action.option_strings[0] == '-h':
      continue
    flag = ' / '.join('`%s`' % option for option in action.option_strings)
    text = formatter._expand_help(action) if action.help else ''  # pylint: disable=protected-access
    rows.append('| %s | %s | %s |' % (flag, _values(action).replace('|', '\\|'),
                                      ' '.join(text.split()).replace('|', '\\|')))
  return '\n'.join(rows)


def tables():
  """The markdown between BEGIN and END in docs/flags.md."""
  return '\n\n'.join('### %s\n\n%s' % (parser.prog, table(parser))
                     for parser in (train_cli.parser(), eval_cli.parser()))


if __name__ == '__main__':
  sys.stdout.write('%s\n%s\n%s\n' % (BEGIN, tables(), END))
