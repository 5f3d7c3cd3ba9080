/*
 * The fixed French wording of the synthesis (headings, labels, notices, the pre-fill
 * templates, the consent statement), loaded from data/labels.fr.txt at start-up. Every key
 * below must be in the file and the file may hold no other key: a missing or unknown key stops
 * the service with a message naming the line, so that a typo never reaches a beneficiary.
 *
 * File format (UTF-8): one "key = value" per line; blank lines and lines starting with '#'
 * are ignored; "\n" in a value is a line break. Values may carry placeholders "{name}" that
 * syn_fill() replaces.
 */
#ifndef SYNTHESES_LABELS_H
#define SYNTHESES_LABELS_H

#include <stddef.h>

#include "boussole/arena.h"

/* X(enum name, key in the file) */
#define SYN_LABEL_KEYS(X)                                                                          \
    X(DOC_TITLE, "doc.title")                                                                      \
    X(DOC_SUBTITLE_NONE, "doc.subtitle_none")                                                      \
    X(DOC_FOOTER, "doc.footer")                                                                    \
    X(DOC_PAGE, "doc.page")                                                                        \
    X(DOC_CONTENTS, "doc.contents")                                                                \
    X(COVER_ORGANISATION, "cover.organisation")                                                    \
    X(COVER_BENEFICIARY, "cover.beneficiary")                                                      \
    X(COVER_COUNSELOR, "cover.counselor")                                                          \
    X(COVER_PERIOD, "cover.period")                                                                \
    X(COVER_PERIOD_VALUE, "cover.period_value")                                                    \
    X(COVER_PERIOD_FROM, "cover.period_from")                                                      \
    X(COVER_HOURS, "cover.hours")                                                                  \
    X(COVER_HOURS_VALUE, "cover.hours_value")                                                      \
    X(COVER_VERSION, "cover.version")                                                              \
    X(COVER_VERSION_VALUE, "cover.version_value")                                                  \
    X(COVER_STATUS, "cover.status")                                                                \
    X(COVER_FINAL_DATE, "cover.final_date")                                                        \
    X(STATUS_DRAFT, "status.draft")                                                                \
    X(STATUS_SUBMITTED, "status.submitted")                                                        \
    X(STATUS_CHANGES, "status.changes")                                                            \
    X(STATUS_FINAL, "status.final")                                                                \
    X(NOTICE_CONFIDENTIAL, "notice.confidential")                                                  \
    X(NOTICE_DRAFT, "notice.draft")                                                                \
    X(NOTICE_CORRECTION, "notice.correction")                                                      \
    X(NOTICE_SHARED, "notice.shared")                                                              \
    X(SECTION_CIRCUMSTANCES, "section.circumstances")                                              \
    X(SECTION_PATH_EXPLORED, "section.path_explored")                                              \
    X(SECTION_SKILLS, "section.skills")                                                            \
    X(SECTION_STRENGTHS, "section.strengths")                                                      \
    X(SECTION_AREAS, "section.areas_to_improve")                                                   \
    X(SECTION_PROJECTS, "section.projects")                                                        \
    X(SECTION_ACTION_PLAN, "section.action_plan")                                                  \
    X(SECTION_FOLLOW_UP, "section.follow_up")                                                      \
    X(SECTION_OBSERVATIONS, "section.observations")                                                \
    X(SUB_ASSESSMENTS, "sub.assessments")                                                          \
    X(SUB_PROJECTS, "sub.projects")                                                                \
    X(SUB_LEADS, "sub.leads")                                                                      \
    X(LABEL_PATH, "label.path")                                                                    \
    X(LABEL_OUTCOME, "label.outcome")                                                              \
    X(LABEL_REASON, "label.reason")                                                                \
    X(LABEL_RESEARCH, "label.research")                                                            \
    X(LABEL_DATE, "label.date")                                                                    \
    X(LABEL_TRAINING, "label.training")                                                            \
    X(LABEL_RESOURCES, "label.resources")                                                          \
    X(LABEL_COMPLETED, "label.completed")                                                          \
    X(LABEL_HOLLAND, "label.holland")                                                              \
    X(LABEL_SCORE, "label.score")                                                                  \
    X(PATH_RECONVERSION, "path.reconversion")                                                      \
    X(PATH_TRAINING, "path.training")                                                              \
    X(PATH_JOB_CHANGE, "path.job_change")                                                          \
    X(PATH_BUSINESS, "path.business_creation")                                                     \
    X(PATH_OTHER, "path.other")                                                                    \
    X(OUTCOME_RETAINED, "outcome.retained")                                                        \
    X(OUTCOME_SET_ASIDE, "outcome.set_aside")                                                      \
    X(OUTCOME_OPEN, "outcome.open")                                                                \
    X(EMPTY_SECTION, "empty.section")                                                              \
    X(MONTH_1, "month.1")                                                                          \
    X(MONTH_2, "month.2")                                                                          \
    X(MONTH_3, "month.3")                                                                          \
    X(MONTH_4, "month.4")                                                                          \
    X(MONTH_5, "month.5")                                                                          \
    X(MONTH_6, "month.6")                                                                          \
    X(MONTH_7, "month.7")                                                                          \
    X(MONTH_8, "month.8")                                                                          \
    X(MONTH_9, "month.9")                                                                          \
    X(MONTH_10, "month.10")                                                                        \
    X(MONTH_11, "month.11")                                                                        \
    X(MONTH_12, "month.12")                                                                        \
    X(FIRST_OF_MONTH, "date.first")                                                                \
    X(RETENTION_STATEMENT, "retention.statement")                                                  \
    X(PREFILL_CIRCUMSTANCES, "prefill.circumstances")                                              \
    X(PREFILL_SITUATION, "prefill.situation")                                                      \
    X(PREFILL_REASONS, "prefill.reasons")                                                          \
    X(PREFILL_EXPECTATIONS, "prefill.expectations")                                                \
    X(PREFILL_EXPERIENCE, "prefill.experience")                                                    \
    X(PREFILL_EXPERIENCES_INTRO, "prefill.experiences_intro")                                      \
    X(PREFILL_ROADMAP_INTRO, "prefill.roadmap_intro")                                              \
    X(PREFILL_ROADMAP_STEP, "prefill.roadmap_step")                                                \
    X(PREFILL_SKILLS_INTRO, "prefill.skills_intro")                                                \
    X(PREFILL_HOLLAND, "prefill.holland")                                                          \
    X(PREFILL_RELATIVES_TITLE, "prefill.relatives_title")                                          \
    X(PREFILL_RELATIVES_INTERESTS, "prefill.relatives_interests")                                  \
    X(PREFILL_RELATIVES_STRENGTHS, "prefill.relatives_strengths")                                  \
    X(PREFILL_RELATIVES_STRENGTH, "prefill.relatives_strength")                                    \
    X(PREFILL_RELATIVES_CHOICE, "prefill.relatives_choice")                                        \
    X(PREFILL_RESEARCH, "prefill.research")                                                        \
    X(PREFILL_FOLLOW_UP, "prefill.follow_up")                                                      \
    X(TOOL_INTERVIEW, "tool.interview")                                                            \
    X(TOOL_QUESTIONNAIRE, "tool.questionnaire")                                                    \
    X(TOOL_RELATIVE_FEEDBACK, "tool.relative_feedback")                                            \
    X(TOOL_JOB_RESEARCH, "tool.job_research")                                                      \
    X(TOOL_PROFESSIONAL_MEETING, "tool.professional_meeting")                                      \
    X(TOOL_DOCUMENTATION, "tool.documentation")                                                    \
    X(TOOL_WORKSHOP, "tool.workshop")                                                              \
    X(TOOL_OTHER, "tool.other")                                                                    \
    X(RESEARCH_JOB_RESEARCH, "research.job_research")                                              \
    X(RESEARCH_TESTIMONY, "research.testimony")                                                    \
    X(RESEARCH_DOCUMENTATION, "research.documentation")                                            \
    X(RESEARCH_IMMERSION, "research.immersion")

typedef enum syn_label {
#define SYN_LABEL_ENUM(name, key) SYN_L_##name,
    SYN_LABEL_KEYS(SYN_LABEL_ENUM)
#undef SYN_LABEL_ENUM
        SYN_L_COUNT
} syn_label;

typedef struct syn_labels syn_labels;

/* Loads <dir>/labels.fr.txt. Returns BSL_OK, or an error with a message naming the file and
 * line in errbuf. The caller frees with syn_labels_free. */
int syn_labels_load(syn_labels **out, const char *dir, char *errbuf, size_t errlen);
void syn_labels_free(syn_labels *l);

/* The text of a label (never NULL). Thread-safe: labels never change after loading. */
const char *syn_label_text(const syn_labels *l, syn_label which);

/*
 * Replaces "{name}" placeholders of a template by values, in the arena: names[i] -> values[i]
 * (n pairs). Unknown placeholders are kept as they are. NULL when out of memory.
 */
char *syn_fill(bsl_arena *a, const char *tmpl, const char *const *names, const char *const *values,
               size_t n);

/* "2026-12-01" -> "1er décembre 2026" with the file's month names; other strings are copied
 * as they are. */
char *syn_french_date(bsl_arena *a, const syn_labels *l, const char *iso);

/* The same for a Unix time in ms (UTC). */
char *syn_french_date_ms(bsl_arena *a, const syn_labels *l, long long unix_ms);

#endif
