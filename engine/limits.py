"""Every limit the engine enforces, in one place.

The server and the CLI read these too, so a scenario that validates here
runs everywhere.
"""

MAX_NODES = 12            # hard ceiling; each protocol states its own tighter range
MAX_ACTIONS = 500         # actions in one scenario
MAX_UNTIL_MS = 600_000    # ten virtual minutes
MIN_UNTIL_MS = 1
MAX_LATENCY_MS = 10_000
MAX_SEED = 2**32 - 1
# A share token. The whole share URL must stay under the 8 KiB request line that
# servers (eventlet, nginx's default large_client_header_buffers) accept.
MAX_TOKEN_CHARS = 7_900
MAX_SCENARIO_BYTES = 65_536
MAX_EVENTS = 2_000_000    # trace events in one run; the run stops (with a note) past this
MAX_STRING = 200          # any free-text field in an action (client request arguments)
# A teacher's lesson (scenario "lesson"): chapters, their texts, and playback stops.
MAX_CHAPTERS = 40
MAX_CHAPTER_TITLE = 120   # characters, per language
MAX_CHAPTER_BODY = 1_200  # characters, per language
MAX_STOP_ITEMS = 20       # message kinds, and node states, a run may stop on
