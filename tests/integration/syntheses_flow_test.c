/*
 * The conclusion phase end to end, against a real redis-server and the real sessions,
 * questionnaires and syntheses processes: a draft pre-filled from real data (intake, roadmap,
 * experiences, a career lead and its research, a RIASEC inventory), edits, a conflicting edit,
 * the beneficiary's observations and comments, a request for changes, the approval that makes
 * it final (and lets the bilan close), rendering as PDF (read back with pdftotext), Markdown
 * and structured data, a correction as a new version, and bad input.
 */
#include "syntheses_helpers.h"

static int setup(void **state)
{
    (void)state;
    start_all("syntheses-flow", false, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!stop_all()) {
        exit(1); /* cmocka ignores a failed group teardown */
    }
    return 0;
}

static bool text_has(const char *text, const char *needle)
{
    return text != NULL && strstr(text, needle) != NULL;
}

static void draft_from_real_data(void **state)
{
    (void)state;
    const char *id0 = bilan_in_conclusion("b-lea");
    char id[32];
    snprintf(id, sizeof(id), "%s", id0);
    Boussole__V1__Synthesis *s = draft(id);
    assert_string_equal(s->bilan_id, id);
    assert_string_equal(s->beneficiary_id, "b-lea");
    assert_string_equal(s->counselor_id, "c-marie");
    assert_int_equal(s->version, 1);
    assert_int_equal(s->status, BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_DRAFT);
    assert_int_equal(s->current_revision, 1);
    const Boussole__V1__SynthesisContent *c = s->content;
    assert_non_null(c);
    /* The bilan: dates and hours on the cover, the period in the circumstances. */
    assert_string_equal(c->cover->start_date, day(-30));
    assert_string_equal(c->cover->end_date, day(60));
    assert_int_equal(c->cover->hours, 24);
    assert_true(text_has(c->circumstances, "pour une durée prévue de 24 heures"));
    /* The intake. */
    assert_true(text_has(c->circumstances, "Assistante de direction depuis douze ans"));
    assert_true(text_has(c->circumstances, "au contact des gens"));
    /* Experiences and the roadmap's steps done in the path explored; skills from them. */
    assert_true(text_has(c->path_explored, "Assistante de direction (groupe de transport)"));
    assert_true(text_has(c->path_explored, "Bénévole aux Restos du cœur"));
    assert_true(text_has(c->path_explored, "Inventaire d'intérêts et enquêtes métier"));
    assert_true(text_has(c->path_explored, "questionnaire, enquête métier"));
    assert_true(text_has(c->skills, "- Organisation d'agendas complexes"));
    assert_true(text_has(c->skills, "- Écoute active"));
    /* The lead, its reason and research; retained, so a project. */
    assert_int_equal(c->n_leads, 1);
    assert_string_equal(c->leads[0]->title, "Conductrice de bus urbain");
    assert_int_equal(c->leads[0]->outcome,
                     BOUSSOLE__V1__SYNTHESIS_LEAD_OUTCOME__SYNTHESIS_LEAD_OUTCOME_RETAINED);
    assert_int_equal(c->leads[0]->path,
                     BOUSSOLE__V1__SYNTHESIS_CAREER_PATH__SYNTHESIS_CAREER_PATH_RECONVERSION);
    assert_string_equal(c->leads[0]->reason, "Correspond au besoin d'autonomie et de concret.");
    assert_true(text_has(c->leads[0]->research,
                         "Témoignage : Rencontre avec une conductrice du réseau urbain"));
    assert_int_equal(c->n_projects, 1);
    assert_string_equal(c->projects[0]->title, "Conductrice de bus urbain");
    /* The questionnaire: its scores by hand and its Holland code; then the relatives'
     * aggregate (three answers: the questionnaires service shows it). */
    assert_int_equal(c->n_assessments, 2);
    const Boussole__V1__SynthesisAssessment *rel = c->assessments[1];
    assert_string_equal(rel->title, "Regards de l'entourage");
    bool relational = false;
    for (size_t i = 0; i < rel->n_scores; i++) {
        if (strcmp(rel->scores[i]->label, "Aisance relationnelle") == 0) {
            relational = rel->scores[i]->normalised == 100;
        }
    }
    assert_true(relational);
    assert_true(text_has(c->strengths, "Ce que l'entourage reconnaît nettement (3 réponses) :"));
    assert_true(text_has(c->strengths, "- Aisance relationnelle (100 sur 100)"));
    assert_false(text_has(c->strengths, "Créativité"));
    assert_true(
        text_has(c->path_explored, "Centres d'intérêt que l'entourage remarque (3 réponses)"));
    assert_true(text_has(c->path_explored, "- Aider, écouter, transmettre (cité 3 fois)"));
    assert_true(text_has(c->path_explored, "- Organiser, gérer, vérifier (cité 2 fois)"));
    /* Relatives' own words never go into the synthesis. */
    assert_false(text_has(c->path_explored, "Toujours disponible"));
    assert_false(text_has(c->strengths, "Toujours disponible"));
    const Boussole__V1__SynthesisAssessment *a = c->assessments[0];
    assert_string_equal(a->holland_code, "IAE");
    assert_int_equal(a->n_scores, 6);
    bool seen_i = false;
    for (size_t i = 0; i < a->n_scores; i++) {
        if (a->scores[i]->value == 40) {
            seen_i = true;
            assert_true(a->scores[i]->normalised == 100);
        }
    }
    assert_true(seen_i);
    assert_true(text_has(a->summary, "IAE"));
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* One synthesis per bilan. */
    Boussole__V1__DraftSynthesisRequest req = BOUSSOLE__V1__DRAFT_SYNTHESIS_REQUEST__INIT;
    req.bilan_id = id;
    Boussole__V1__Caller co = counselor();
    expect_status(syn("DraftSynthesis", &req.base, &co, NULL), BSL_STATUS_ALREADY_EXISTS);
    /* Another counselor does not learn that the bilan exists. */
    Boussole__V1__Caller oc = other_counselor();
    expect_status(syn("DraftSynthesis", &req.base, &oc, NULL), BSL_STATUS_NOT_FOUND);
}

/* The bilan the next tests work on (drafted by draft_from_real_data). */
static char bilan[32];

static void set_section_text(Boussole__V1__SynthesisContent *c, const char *skills)
{
    boussole__v1__synthesis_content__init(c);
    c->skills = (char *)skills;
}

static void edits_conflicts_comments_and_approval(void **state)
{
    (void)state;
    snprintf(bilan, sizeof(bilan), "%s", bilan_in_conclusion("b-lea"));
    /* Another beneficiary for this test file: the fixture's bilan for b-lea is taken. */
    Boussole__V1__Synthesis *s = draft(bilan);
    uint64_t r1 = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__Caller co = counselor(), be = beneficiary(), ad = admin();

    /* The counselor edits the skills: revision 2, what changed recorded. */
    Boussole__V1__SynthesisContent c;
    set_section_text(&c, "Organisation, rédaction, écoute active : des atouts solides.");
    Boussole__V1__SynthesisSection only_skills[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS
    };
    expect_status(save(bilan, &co, r1, &c, only_skills, 1, "Reformulation des compétences", &s),
                  BSL_STATUS_OK);
    assert_int_equal(s->current_revision, r1 + 1);
    assert_string_equal(s->content->skills,
                        "Organisation, rédaction, écoute active : des atouts solides.");
    /* The other sections are untouched by a save of one section. */
    assert_non_null(strstr(s->content->circumstances, "Assistante de direction"));
    uint64_t r2 = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* A conflicting edit from revision 1: ABORTED, nothing written. */
    set_section_text(&c, "Version concurrente");
    expect_status(save(bilan, &co, r1, &c, only_skills, 1, NULL, NULL), BSL_STATUS_ABORTED);
    expect_status(get_synthesis(bilan, &co, 0, &s), BSL_STATUS_OK);
    assert_int_equal(s->current_revision, r2);
    assert_string_equal(s->content->skills,
                        "Organisation, rédaction, écoute active : des atouts solides.");
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* A save that changes nothing makes no revision. */
    set_section_text(&c, "Organisation, rédaction, écoute active : des atouts solides.");
    expect_status(save(bilan, &co, r2, &c, only_skills, 1, NULL, &s), BSL_STATUS_OK);
    assert_int_equal(s->current_revision, r2);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* The beneficiary writes observations only; the counselor never does. */
    Boussole__V1__SynthesisContent obs = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    obs.beneficiary_observations = "Je me reconnais dans ce portrait, merci.";
    expect_status(save(bilan, &be, r2, &obs, NULL, 0, NULL, &s), BSL_STATUS_OK);
    uint64_t r3 = s->current_revision;
    assert_int_equal(r3, r2 + 1);
    assert_string_equal(s->content->beneficiary_observations,
                        "Je me reconnais dans ce portrait, merci.");
    assert_non_null(strstr(s->content->skills, "atouts solides"));
    protobuf_c_message_free_unpacked(&s->base, NULL);
    expect_status(save(bilan, &be, r3, &c, only_skills, 1, NULL, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__SynthesisSection only_obs[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS
    };
    expect_status(save(bilan, &co, r3, &obs, only_obs, 1, NULL, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    expect_status(save(bilan, &ad, r3, &obs, NULL, 0, NULL, NULL), BSL_STATUS_PERMISSION_DENIED);

    /* Revisions: who, when, what changed, newest first; any revision readable. */
    Boussole__V1__ListSynthesisRevisionsRequest lr =
        BOUSSOLE__V1__LIST_SYNTHESIS_REVISIONS_REQUEST__INIT;
    lr.bilan_id = bilan;
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ListSynthesisRevisions", &lr.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__ListSynthesisRevisionsResponse *revs =
        (Boussole__V1__ListSynthesisRevisionsResponse *)resp;
    assert_int_equal(revs->n_revisions, 3);
    assert_int_equal(revs->revisions[0]->number, r3);
    assert_string_equal(revs->revisions[0]->author_id, "b-lea");
    assert_int_equal(revs->revisions[0]->author_role, BOUSSOLE__V1__ROLE__ROLE_BENEFICIARY);
    assert_int_equal(revs->revisions[0]->n_changed_sections, 1);
    assert_int_equal(revs->revisions[0]->changed_sections[0],
                     BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_OBSERVATIONS);
    assert_int_equal(revs->revisions[1]->number, r2);
    assert_string_equal(revs->revisions[1]->author_id, "c-marie");
    assert_string_equal(revs->revisions[1]->change_note, "Reformulation des compétences");
    assert_int_equal(revs->revisions[1]->n_changed_sections, 1);
    assert_int_equal(revs->revisions[1]->changed_sections[0],
                     BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS);
    assert_int_equal(revs->revisions[2]->kind,
                     BOUSSOLE__V1__SYNTHESIS_REVISION_KIND__SYNTHESIS_REVISION_KIND_DRAFTED);
    assert_true(revs->revisions[2]->create_time != NULL);
    protobuf_c_message_free_unpacked(resp, NULL);
    Boussole__V1__PageRequest page = BOUSSOLE__V1__PAGE_REQUEST__INIT;
    page.page_size = 2;
    lr.page = &page;
    expect_status(syn("ListSynthesisRevisions", &lr.base, &co, &resp), BSL_STATUS_OK);
    revs = (Boussole__V1__ListSynthesisRevisionsResponse *)resp;
    assert_int_equal(revs->n_revisions, 2);
    assert_string_equal(revs->next_page_token, "1");
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(get_synthesis(bilan, &be, r1, &s), BSL_STATUS_OK);
    assert_int_equal(s->revision, r1);
    assert_int_equal(s->current_revision, r3);
    assert_string_equal(s->content->beneficiary_observations, "");
    assert_null(strstr(s->content->skills, "atouts solides"));
    protobuf_c_message_free_unpacked(&s->base, NULL);
    expect_status(get_synthesis(bilan, &be, 99, NULL), BSL_STATUS_NOT_FOUND);

    /* Submitted to the beneficiary, who comments and asks for changes. */
    expect_status(submit(bilan, r2), BSL_STATUS_ABORTED);
    expect_status(submit(bilan, r3), BSL_STATUS_OK);
    expect_status(submit(bilan, r3), BSL_STATUS_OK); /* idempotent */
    Boussole__V1__AddSynthesisCommentRequest ac = BOUSSOLE__V1__ADD_SYNTHESIS_COMMENT_REQUEST__INIT;
    ac.bilan_id = bilan;
    ac.section = BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS;
    ac.text = "Pourrait-on citer ma patience avec les familles ?";
    expect_status(syn("AddSynthesisComment", &ac.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__SynthesisComment *cm = (Boussole__V1__SynthesisComment *)resp;
    assert_string_equal(cm->author_id, "b-lea");
    assert_int_equal(cm->revision, r3);
    protobuf_c_message_free_unpacked(resp, NULL);
    ac.text = "Bien noté, je l'ajoute.";
    expect_status(syn("AddSynthesisComment", &ac.base, &co, NULL), BSL_STATUS_OK);
    expect_status(syn("AddSynthesisComment", &ac.base, &ad, NULL), BSL_STATUS_PERMISSION_DENIED);
    Boussole__V1__RequestSynthesisChangesRequest rc =
        BOUSSOLE__V1__REQUEST_SYNTHESIS_CHANGES_REQUEST__INIT;
    rc.bilan_id = bilan;
    rc.base_revision = r3;
    rc.comment = "Merci d'ajouter la patience dans les points forts.";
    rc.section = BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS;
    expect_status(syn("RequestSynthesisChanges", &rc.base, &co, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    expect_status(syn("RequestSynthesisChanges", &rc.base, &be, &resp), BSL_STATUS_OK);
    s = (Boussole__V1__Synthesis *)resp;
    assert_int_equal(s->status, BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_CHANGES_REQUESTED);
    protobuf_c_message_free_unpacked(resp, NULL);
    expect_status(approve(bilan, "b-lea", r3), BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition(c_syntheses, "SYNTHESIS_NOT_SUBMITTED"));
    Boussole__V1__ListSynthesisCommentsRequest lc =
        BOUSSOLE__V1__LIST_SYNTHESIS_COMMENTS_REQUEST__INIT;
    lc.bilan_id = bilan;
    expect_status(syn("ListSynthesisComments", &lc.base, &co, &resp), BSL_STATUS_OK);
    Boussole__V1__ListSynthesisCommentsResponse *cl =
        (Boussole__V1__ListSynthesisCommentsResponse *)resp;
    assert_int_equal(cl->n_comments, 3);
    assert_string_equal(cl->comments[0]->text, "Pourrait-on citer ma patience avec les familles ?");
    assert_string_equal(cl->comments[1]->author_id, "c-marie");
    assert_true(cl->comments[2]->change_request);
    assert_int_equal(cl->comments[2]->section,
                     BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The counselor edits and submits again; a counselor's save sends a submitted synthesis
     * back to draft, so the beneficiary always approves what the counselor submitted. */
    Boussole__V1__SynthesisContent st = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    st.strengths = "- Fiabilité\n- Patience avec les familles\n- Sens du service";
    Boussole__V1__SynthesisSection only_strengths[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_STRENGTHS
    };
    expect_status(save(bilan, &co, r3, &st, only_strengths, 1, "Ajout demandé", &s), BSL_STATUS_OK);
    uint64_t r4 = s->current_revision;
    assert_int_equal(s->status, BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_CHANGES_REQUESTED);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    expect_status(submit(bilan, r4), BSL_STATUS_OK);
    expect_status(approve(bilan, "b-lea", r3), BSL_STATUS_ABORTED);
    Boussole__V1__Caller other_b = beneficiary_of("b-autre");
    Boussole__V1__ApproveSynthesisRequest apr = BOUSSOLE__V1__APPROVE_SYNTHESIS_REQUEST__INIT;
    apr.bilan_id = bilan;
    apr.revision = r4;
    expect_status(syn("ApproveSynthesis", &apr.base, &other_b, NULL), BSL_STATUS_NOT_FOUND);
    expect_status(syn("ApproveSynthesis", &apr.base, &co, NULL), BSL_STATUS_PERMISSION_DENIED);

    /* Before the approval, the bilan cannot close. */
    expect_status(advance(bilan, BOUSSOLE__V1__PHASE__PHASE_CLOSED, false),
                  BSL_STATUS_FAILED_PRECONDITION);
    expect_status(approve(bilan, "b-lea", r4), BSL_STATUS_OK);
    expect_status(approve(bilan, "b-lea", r4), BSL_STATUS_OK); /* idempotent */
    expect_status(get_synthesis(bilan, &be, 0, &s), BSL_STATUS_OK);
    assert_int_equal(s->status, BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_FINAL);
    assert_int_equal(s->n_versions, 1);
    assert_int_equal(s->versions[0]->final_revision, r4);
    assert_int_equal(s->versions[0]->submitted_revision, r4);
    assert_string_equal(s->versions[0]->approved_by, "b-lea");
    assert_non_null(s->versions[0]->final_time);
    protobuf_c_message_free_unpacked(&s->base, NULL);

    /* Final is immutable. */
    expect_status(save(bilan, &co, r4, &st, only_strengths, 1, NULL, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    assert_true(has_precondition(c_syntheses, "SYNTHESIS_FINAL"));
    expect_status(save(bilan, &be, r4, &obs, NULL, 0, NULL, NULL), BSL_STATUS_FAILED_PRECONDITION);
    ac.text = "Trop tard ?";
    expect_status(syn("AddSynthesisComment", &ac.base, &be, NULL), BSL_STATUS_FAILED_PRECONDITION);

    /* The sessions service was told: the bilan may close now. */
    Boussole__V1__GetBilanRequest gb = BOUSSOLE__V1__GET_BILAN_REQUEST__INIT;
    gb.id = bilan;
    expect_status(ses("GetBilan", &gb.base, &co, &resp), BSL_STATUS_OK);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Rendering of the final document: PDF (text read back), Markdown, structured. */
static void rendering(void **state)
{
    (void)state;
    Boussole__V1__Caller be = beneficiary(), co = counselor(), ad = admin();
    Boussole__V1__RenderSynthesisRequest rr = BOUSSOLE__V1__RENDER_SYNTHESIS_REQUEST__INIT;
    rr.bilan_id = bilan;
    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF;
    ProtobufCMessage *resp = NULL;
    expect_status(syn("RenderSynthesis", &rr.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__RenderedSynthesis *r = (Boussole__V1__RenderedSynthesis *)resp;
    assert_string_equal(r->content_type, "application/pdf");
    assert_true(r->final);
    assert_true(r->data.len > 1000);
    assert_memory_equal(r->data.data, "%PDF-", 5);
    char *text = pdf_text(r->data.data, r->data.len, "final");
    const char *want[] = {
        "Synthèse du bilan de compétences",
        "1. Circonstances du bilan",
        "2. Parcours exploré",
        "3. Compétences et aptitudes",
        "4. Points forts",
        "5. Axes de progrès",
        "6. Projet(s) retenu(s) et pistes envisagées",
        "7. Plan d'action",
        "8. Suivi prévu",
        "9. Observations du bénéficiaire",
        "Patience avec les familles",
        "Je me reconnais dans ce portrait, merci.",
        "Conductrice de bus urbain",
        "Code Holland",
        "IAE",
        "Page 1 sur",
        "Version définitive",
        "Sommaire",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(text, want[i]) == NULL) {
            fail_msg("the PDF text lacks \"%s\"", want[i]);
        }
    }
    assert_null(strstr(text, "PROJET"));
    free(text);
    /* Its document is the structured form too. */
    assert_non_null(r->document);
    assert_int_equal(r->document->n_sections, 9);
    protobuf_c_message_free_unpacked(resp, NULL);

    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_MARKDOWN;
    expect_status(syn("RenderSynthesis", &rr.base, &co, &resp), BSL_STATUS_OK);
    r = (Boussole__V1__RenderedSynthesis *)resp;
    assert_string_equal(r->content_type, "text/markdown; charset=utf-8");
    char *md = strndup((const char *)r->data.data, r->data.len);
    assert_non_null(strstr(md, "# Synthèse du bilan de compétences"));
    assert_non_null(strstr(md, "## 4. Points forts"));
    assert_non_null(strstr(md, "- Patience avec les familles"));
    free(md);
    protobuf_c_message_free_unpacked(resp, NULL);

    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_STRUCTURED;
    expect_status(syn("RenderSynthesis", &rr.base, &be, &resp), BSL_STATUS_OK);
    r = (Boussole__V1__RenderedSynthesis *)resp;
    assert_int_equal(r->data.len, 0);
    assert_string_equal(r->document->title, "Synthèse du bilan de compétences");
    assert_string_equal(r->document->sections[2]->heading, "Compétences et aptitudes");
    protobuf_c_message_free_unpacked(resp, NULL);

    /* The first revision, not final, is rendered as a draft. */
    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_PDF;
    rr.revision = 1;
    expect_status(syn("RenderSynthesis", &rr.base, &co, &resp), BSL_STATUS_OK);
    r = (Boussole__V1__RenderedSynthesis *)resp;
    assert_false(r->final);
    text = pdf_text(r->data.data, r->data.len, "draft");
    assert_non_null(strstr(text, "PROJET"));
    free(text);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* An admin cannot render it; a bad format is refused. */
    rr.revision = 0;
    expect_status(syn("RenderSynthesis", &rr.base, &ad, NULL), BSL_STATUS_PERMISSION_DENIED);
    rr.format = 42;
    expect_status(syn("RenderSynthesis", &rr.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "format"));
}

/* A correction: a new version recording why; the final version stays readable. */
static void correction(void **state)
{
    (void)state;
    Boussole__V1__Caller be = beneficiary(), co = counselor();
    Boussole__V1__Synthesis *s = NULL;
    expect_status(get_synthesis(bilan, &co, 0, &s), BSL_STATUS_OK);
    uint64_t final_rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    Boussole__V1__StartSynthesisCorrectionRequest sc =
        BOUSSOLE__V1__START_SYNTHESIS_CORRECTION_REQUEST__INIT;
    sc.bilan_id = bilan;
    sc.base_revision = final_rev;
    sc.reason = "";
    expect_status(syn("StartSynthesisCorrection", &sc.base, &co, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "reason"));
    sc.reason = "Erreur sur l'intitulé du projet retenu.";
    expect_status(syn("StartSynthesisCorrection", &sc.base, &be, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    ProtobufCMessage *resp = NULL;
    expect_status(syn("StartSynthesisCorrection", &sc.base, &co, &resp), BSL_STATUS_OK);
    s = (Boussole__V1__Synthesis *)resp;
    assert_int_equal(s->version, 2);
    assert_int_equal(s->status, BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_DRAFT);
    assert_int_equal(s->current_revision, final_rev + 1);
    assert_int_equal(s->n_versions, 2);
    assert_string_equal(s->versions[1]->correction_reason,
                        "Erreur sur l'intitulé du projet retenu.");
    assert_string_equal(s->versions[1]->corrected_by, "c-marie");
    assert_int_equal(s->versions[0]->status,
                     BOUSSOLE__V1__SYNTHESIS_STATUS__SYNTHESIS_STATUS_FINAL);
    /* The new version starts from the final content. */
    assert_non_null(strstr(s->content->strengths, "Patience avec les familles"));
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A second correction of a version that is not final is refused. */
    sc.base_revision = final_rev + 1;
    expect_status(syn("StartSynthesisCorrection", &sc.base, &co, NULL),
                  BSL_STATUS_FAILED_PRECONDITION);
    /* The final revision is still there, still final. */
    expect_status(get_synthesis(bilan, &be, final_rev, &s), BSL_STATUS_OK);
    assert_int_equal(s->revision_version, 1);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    /* Version 2 rendered: it says what it corrects and why. */
    Boussole__V1__RenderSynthesisRequest rr = BOUSSOLE__V1__RENDER_SYNTHESIS_REQUEST__INIT;
    rr.bilan_id = bilan;
    rr.format = BOUSSOLE__V1__SYNTHESIS_FORMAT__SYNTHESIS_FORMAT_STRUCTURED;
    expect_status(syn("RenderSynthesis", &rr.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__RenderedSynthesis *r = (Boussole__V1__RenderedSynthesis *)resp;
    bool noticed = false;
    for (size_t i = 0; i < r->document->n_notices; i++) {
        noticed |= strstr(r->document->notices[i], "corrige la version 1") != NULL &&
                   strstr(r->document->notices[i], "Erreur sur l'intitulé") != NULL;
    }
    assert_true(noticed);
    protobuf_c_message_free_unpacked(resp, NULL);
}

/* Bounded sizes and malformed requests: INVALID_ARGUMENT naming the field, nothing written. */
static void bad_input(void **state)
{
    (void)state;
    Boussole__V1__Caller co = counselor(), be = beneficiary();
    Boussole__V1__Synthesis *s = NULL;
    expect_status(get_synthesis(bilan, &co, 0, &s), BSL_STATUS_OK);
    uint64_t rev = s->current_revision;
    protobuf_c_message_free_unpacked(&s->base, NULL);
    char *big = malloc(10002);
    memset(big, 'a', 10001);
    big[10001] = '\0';
    Boussole__V1__SynthesisContent c = BOUSSOLE__V1__SYNTHESIS_CONTENT__INIT;
    c.skills = big;
    expect_status(save(bilan, &co, rev, &c, NULL, 0, NULL, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "content.skills"));
    free(big);
    Boussole__V1__SynthesisActionStep step = BOUSSOLE__V1__SYNTHESIS_ACTION_STEP__INIT;
    Boussole__V1__SynthesisActionStep *steps[] = { &step };
    step.title = "";
    step.target_date = "2027-02-30";
    boussole__v1__synthesis_content__init(&c);
    c.action_plan = steps;
    c.n_action_plan = 1;
    expect_status(save(bilan, &co, rev, &c, NULL, 0, NULL, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "content.action_plan[0].title"));
    assert_true(has_field_violation(c_syntheses, "content.action_plan[0].target_date"));
    Boussole__V1__SynthesisSection twice[] = {
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
        BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_SKILLS,
    };
    expect_status(save(bilan, &co, rev, &c, twice, 2, NULL, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "sections[1]"));
    Boussole__V1__SynthesisSection unknown[] = { 77 };
    expect_status(save(bilan, &co, rev, &c, unknown, 1, NULL, NULL), BSL_STATUS_INVALID_ARGUMENT);
    expect_status(save(bilan, &co, 0, &c, NULL, 0, NULL, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "base_revision"));
    expect_status(save("pas-un-id", &co, rev, &c, NULL, 0, NULL, NULL),
                  BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "bilan_id"));
    /* A comment over 4000 characters. */
    char *long_comment = malloc(4002);
    memset(long_comment, 'b', 4001);
    long_comment[4001] = '\0';
    Boussole__V1__AddSynthesisCommentRequest ac = BOUSSOLE__V1__ADD_SYNTHESIS_COMMENT_REQUEST__INIT;
    ac.bilan_id = bilan;
    ac.text = long_comment;
    expect_status(syn("AddSynthesisComment", &ac.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    assert_true(has_field_violation(c_syntheses, "text"));
    free(long_comment);
    ac.text = "";
    expect_status(syn("AddSynthesisComment", &ac.base, &be, NULL), BSL_STATUS_INVALID_ARGUMENT);
    /* Nothing of that was written. */
    expect_status(get_synthesis(bilan, &co, 0, &s), BSL_STATUS_OK);
    assert_int_equal(s->current_revision, rev);
    protobuf_c_message_free_unpacked(&s->base, NULL);
}

/* The bundle: everything about the beneficiary, from the three services. */
static void export_bundle(void **state)
{
    (void)state;
    Boussole__V1__Caller be = beneficiary(), co = counselor();
    Boussole__V1__ExportBeneficiaryBundleRequest req =
        BOUSSOLE__V1__EXPORT_BENEFICIARY_BUNDLE_REQUEST__INIT;
    req.beneficiary_id = "b-lea";
    expect_status(syn("ExportBeneficiaryBundle", &req.base, &co, NULL),
                  BSL_STATUS_PERMISSION_DENIED);
    ProtobufCMessage *resp = NULL;
    expect_status(syn("ExportBeneficiaryBundle", &req.base, &be, &resp), BSL_STATUS_OK);
    Boussole__V1__BeneficiaryDataBundle *b = (Boussole__V1__BeneficiaryDataBundle *)resp;
    assert_string_equal(b->beneficiary_id, "b-lea");
    assert_int_equal(b->n_parts, 3);
    assert_string_equal(b->parts[0]->service, "sessions");
    assert_string_equal(b->parts[0]->type, "boussole.v1.SessionsExport");
    assert_string_equal(b->parts[1]->type, "boussole.v1.QuestionnairesExport");
    assert_string_equal(b->parts[2]->type, "boussole.v1.SynthesesExport");
    Boussole__V1__SessionsExport *se =
        boussole__v1__sessions_export__unpack(NULL, b->parts[0]->data.len, b->parts[0]->data.data);
    assert_non_null(se);
    assert_true(se->n_bilans >= 2);
    boussole__v1__sessions_export__free_unpacked(se, NULL);
    Boussole__V1__QuestionnairesExport *qe = boussole__v1__questionnaires_export__unpack(
        NULL, b->parts[1]->data.len, b->parts[1]->data.data);
    assert_non_null(qe);
    assert_true(qe->n_bilans >= 2);
    boussole__v1__questionnaires_export__free_unpacked(qe, NULL);
    /* The syntheses part, decoded: both bilans, revisions with contents, comments. */
    assert_non_null(b->syntheses);
    assert_int_equal(b->syntheses->n_bilans, 2);
    bool found = false;
    for (size_t i = 0; i < b->syntheses->n_bilans; i++) {
        const Boussole__V1__SynthesisExportItem *it = b->syntheses->bilans[i];
        if (strcmp(it->bilan_id, bilan) != 0) {
            continue;
        }
        found = true;
        assert_non_null(it->synthesis);
        assert_int_equal(it->synthesis->version, 2);
        assert_int_equal(it->n_revisions, it->synthesis->current_revision);
        assert_int_equal(it->n_revision_contents, it->n_revisions);
        assert_false(it->revisions_truncated);
        assert_int_equal(it->n_comments, 3);
        assert_true(it->n_access_log >= 1);
        assert_non_null(it->retention);
    }
    assert_true(found);
    protobuf_c_message_free_unpacked(resp, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(draft_from_real_data),
        cmocka_unit_test(edits_conflicts_comments_and_approval),
        cmocka_unit_test(rendering),
        cmocka_unit_test(correction),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(export_bundle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
