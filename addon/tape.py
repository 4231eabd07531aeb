"""mitmtape for `mitmdump -s addon/tape.py` (also `mitmproxy -s` and `mitmweb -s`).

mitmproxy puts this file's folder on `sys.path` while it loads the script, so the package beside
it is found from a checkout whose dependencies are installed. An installed mitmtape carries its
own copy, `mitmtape/script/tape.py`, which `mitmtape proxy|console|web` loads.
"""

from mitmtape.addon import MitmTape
from mitmtape.addon.script_hooks import unhandled_hooks

addons = [MitmTape()]
# mitmproxy looks every event up on this module too; a name it binds is found at once.
globals().update(unhandled_hooks(globals()))
