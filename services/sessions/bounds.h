/*
 * Bounds of everything a bilan holds. Every collection under a bilan is capped, so that a
 * list answer fits well inside the 1 MiB message limit (worst case noted for each) and no
 * call does unbounded work; texts are counted in Unicode characters (at most 4 bytes each).
 */
#ifndef SESSIONS_BOUNDS_H
#define SESSIONS_BOUNDS_H

/* Meetings per bilan, cancelled ones included: 40 × (4000-char notes) ≈ 650 KB at worst. */
#define SESS_MAX_MEETINGS      40
#define SESS_MAX_SHARED_NOTES  4000
#define SESS_MAX_PRIVATE_NOTES 8000
#define SESS_MIN_MEETING_MIN   15
#define SESS_MAX_MEETING_MIN   480
/* Meetings may be planned up to two years ahead (the follow-up is typically at six months). */
#define SESS_MAX_AHEAD_DAYS 730

/* Intake: 6 texts × 4000 characters. */
#define SESS_MAX_INTAKE_TEXT 4000

/* Roadmap: 30 steps × 200-character titles. */
#define SESS_MAX_ROADMAP_STEPS 30
#define SESS_MAX_STEP_TITLE    200
#define SESS_MAX_STEP_TOOLS    8

/* Experiences: 40 × (2000 + 20 × 100 characters) ≈ 640 KB at worst. */
#define SESS_MAX_EXPERIENCES 40
#define SESS_MAX_TITLE       200
#define SESS_MAX_DESCRIPTION 2000
#define SESS_MAX_SKILLS      20
#define SESS_MAX_SKILL       100

/* Career leads: 20 leads × 2000-character reasons, 60 research entries × (2000-character
 * notes + 3 links of 500 characters) ≈ 800 KB at worst. */
#define SESS_MAX_LEADS          20
#define SESS_MAX_REASON         2000
#define SESS_MAX_RESEARCH       60
#define SESS_MAX_RESEARCH_NOTES 2000
#define SESS_MAX_LINKS          3
#define SESS_MAX_LINK           500

/* Accompanied time entries per bilan (24 h in entries of at least one minute would be 1440;
 * real ledgers hold a few dozen). */
#define SESS_MAX_HOURS_ENTRIES 200
#define SESS_MAX_ENTRY_MIN     480

/* Agreement texts. */
#define SESS_MAX_EMPLOYER    200
#define SESS_MAX_OBJECTIVE   2000
#define SESS_MAX_CONTENT     4000
#define SESS_MAX_MEANS       2000
#define SESS_MAX_HANDOVER    1000
#define SESS_MAX_PRICE_CENTS 100000000ULL

/* Bilans in one export, newest first. */
#define SESS_MAX_EXPORT_BILANS 50

/* Index entries one ListBilans page may examine (filters may skip many). */
#define SESS_MAX_LIST_SCAN 200

#endif
