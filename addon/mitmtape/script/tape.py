"""mitmtape for mitmproxy, from an installed package: `mitmtape proxy|console|web` passes this
file to mitmdump, mitmproxy or mitmweb with `-s` (an install has no checkout's `addon/tape.py`).

mitmproxy puts this file's folder on `sys.path` while it loads the script, so the folder holds
nothing else that could shadow a module; the package itself comes from where it is installed.
"""

from mitmtape.addon import MitmTape
from mitmtape.addon.script_hooks import unhandled_hooks

addons = [MitmTape()]
# mitmproxy looks every event up on this module too; a name it binds is found at once.
globals().update(unhandled_hooks(globals()))
