#!/usr/bin/env python3
"""Rewrites common tech jargon that hunspell's en_US dictionary lacks into
dictionary spellings, in template prose only (never inside rule or variable
names). Used on templates/ to keep the corpus's unknown-word rate low.
    scripts/respell.py templates/genres/*.sdt
"""
import re
import sys

REPLACE = {
    "chatbots": "chat assistants", "chatbot": "chat assistant",
    "rollouts": "roll-outs", "rollout": "roll-out",
    "roadmaps": "road maps", "roadmap": "road map",
    "reposts": "re-posts", "reposted": "re-posted", "repost": "re-post",
    "onboarding": "on-boarding", "whistleblowers": "whistle-blowers", "whistleblower": "whistle-blower",
    "backend": "back end", "changelog": "change log", "leaderboards": "leader boards", "leaderboard": "leader board",
    "uptime": "up-time", "standups": "stand-ups", "standup": "stand-up", "comms": "communications",
    "rulemaking": "rule-making", "commenters": "commentators", "commenter": "commentator", "funders": "backers",
    "hotspots": "hot spots", "hotspot": "hot spot", "offsites": "off-sites", "offsite": "off-site",
    "coworking": "co-working", "tradeoffs": "trade-offs", "tradeoff": "trade-off", "pushback": "push-back",
    "codebases": "code bases", "codebase": "code base", "overfitting": "over-fitting", "megathread": "mega-thread",
    "quickstart": "quick-start", "relatedly": "on a related note", "deployers": "deploying companies",
    "livestream": "live stream", "livestreams": "live streams", "screenshotted": "took a screenshot of",
    "timeframe": "time frame", "workflows": "work flows", "workflow": "work flow", "signup": "sign-up",
    "signups": "sign-ups", "walkthrough": "walk-through", "walkthroughs": "walk-throughs",
}

def fix(word):
    low = word.lower()
    rep = REPLACE[low]
    if word.isupper() and len(word) > 1:
        return rep.upper()
    if word[0].isupper():
        return rep[0].upper() + rep[1:]
    return rep

pattern = re.compile(r"(?<![\w{$.])(" + "|".join(sorted(REPLACE, key=len, reverse=True)) + r")(?![\w}])", re.I)

for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    out, n = pattern.subn(lambda m: fix(m.group(1)), text)
    if n:
        open(path, "w", encoding="utf-8").write(out)
        print(f"{path}: {n} replacements")
