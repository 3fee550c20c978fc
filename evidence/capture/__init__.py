"""Capturing a web page (issue #16): a pure package, no ORM. `fetch` makes every request of a
capture to an address `config.outbound` allowed, `engine` drives Chromium through Playwright
with every request answered by `fetch`, `warc` writes what was fetched as a WARC file."""
