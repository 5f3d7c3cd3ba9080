/* Unit tests of the French wording file (labels.c), the document model (document.c), the
 * Markdown renderer (markdown.c) and the PDF renderer (pdf.c, read back with pdftotext). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "boussole/err.h"
#include "labels.h"
#include "render.h"
#include "syntheses.h"

static syn_labels *labels;

/* fontconfig's process-wide caches are never freed (see services/syntheses/main.c). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfontconfig.so\n";
}

static const char *data_dir(void)
{
    static char dir[1024];
    const char *src = getenv("BSL_SOURCE_DIR");
    snprintf(dir, sizeof(dir), "%s/services/syntheses/data", src ? src : ".");
    return dir;
}

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (syn_labels_load(&labels, data_dir(), err, sizeof(err)) != BSL_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    syn_labels_free(labels);
    return 0;
}

/* ---- the wording file -------------------------------------------------------------------- */

/* Writes the real file with one line changed (or appended) into a temporary directory and
 * loads it; returns the loader's result, with its message in err. */
static int load_variant(const char *replace_prefix, const char *with, char *err, size_t cap)
{
    char src[1100], dir[] = "/tmp/syn-labels-XXXXXX", path[1100];
    snprintf(src, sizeof(src), "%s/labels.fr.txt", data_dir());
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/labels.fr.txt", dir);
    FILE *in = fopen(src, "r"), *out = fopen(path, "w");
    assert_non_null(in);
    assert_non_null(out);
    char line[4096];
    while (fgets(line, sizeof(line), in) != NULL) {
        if (replace_prefix != NULL && strncmp(line, replace_prefix, strlen(replace_prefix)) == 0) {
            fputs(with, out);
            continue;
        }
        fputs(line, out);
    }
    if (replace_prefix == NULL) {
        fputs(with, out);
    }
    fclose(in);
    fclose(out);
    syn_labels *l = NULL;
    int rv = syn_labels_load(&l, dir, err, cap);
    syn_labels_free(l);
    unlink(path);
    rmdir(dir);
    return rv;
}

static void wording_file_is_checked(void **state)
{
    (void)state;
    assert_string_equal(syn_label_text(labels, SYN_L_SECTION_SKILLS), "Compétences et aptitudes");
    assert_string_equal(syn_label_text(labels, SYN_L_DOC_PAGE), "Page {page} sur {pages}");
    char err[512];
    assert_int_equal(load_variant("section.skills", "", err, sizeof(err)), BSL_EINVAL);
    assert_non_null(strstr(err, "missing key \"section.skills\""));
    assert_int_equal(load_variant(NULL, "section.skils = Compétences\n", err, sizeof(err)),
                     BSL_EINVAL);
    assert_non_null(strstr(err, "unknown key \"section.skils\""));
    assert_non_null(strstr(err, "labels.fr.txt:"));
    assert_int_equal(load_variant(NULL, "doc.title = Encore\n", err, sizeof(err)), BSL_EINVAL);
    assert_non_null(strstr(err, "given twice"));
    assert_int_equal(load_variant("doc.footer", "doc.footer =\n", err, sizeof(err)), BSL_EINVAL);
    assert_non_null(strstr(err, "is empty"));
    assert_int_equal(load_variant("doc.footer", "doc.footer = caf\xe9\n", err, sizeof(err)),
                     BSL_EINVAL);
    assert_non_null(strstr(err, "UTF-8"));
    assert_int_equal(load_variant("doc.footer", "sans signe égal\n", err, sizeof(err)), BSL_EINVAL);
    syn_labels *l = NULL;
    assert_int_equal(syn_labels_load(&l, "/nonexistent", err, sizeof(err)), BSL_EIO);
    assert_null(l);
}

static void fill_and_dates(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    const char *names[] = { "start", "end" };
    const char *values[] = { "1er mai", "{start}" };
    /* Values are not expanded again; unknown placeholders stay. */
    assert_string_equal(syn_fill(a, "du {start} au {end} {x}", names, values, 2),
                        "du 1er mai au {start} {x}");
    assert_string_equal(syn_french_date(a, labels, "2026-12-01"), "1er décembre 2026");
    assert_string_equal(syn_french_date(a, labels, "2027-02-28"), "28 février 2027");
    assert_string_equal(syn_french_date(a, labels, "2027-13-01"), "2027-13-01");
    assert_string_equal(syn_french_date(a, labels, "hier"), "hier");
    assert_string_equal(syn_french_date_ms(a, labels, 1798761600000LL), "1er janvier 2027");
    bsl_arena_free(a);
}

/* ---- the document ------------------------------------------------------------------------ */

static Boussole__V1__SynthesisContent *content(bsl_arena *a)
{
    Boussole__V1__SynthesisContent *c = syn_content_new(a);
    c->cover->beneficiary_name = "Léa Dubois";
    c->cover->start_date = "2026-12-01";
    c->cover->end_date = "2027-02-28";
    c->cover->hours = 24;
    c->circumstances = "Premier paragraphe\nsur deux lignes.\n\n- point un\n- point deux\n\nFin.";
    c->skills = "# pas un titre [lien](http://x) *gras*";
    static Boussole__V1__SynthesisActionStep st = BOUSSOLE__V1__SYNTHESIS_ACTION_STEP__INIT;
    static Boussole__V1__SynthesisActionStep *sts[] = { &st };
    st.title = "Préparer le dossier de VAE";
    st.target_date = "2027-03-15";
    st.training = "";
    c->action_plan = sts;
    c->n_action_plan = 1;
    return c;
}

static void document_model(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    syn_doc_input in = { .content = content(a),
                         .sections = SYN_MASK_SHAREABLE,
                         .version = 1,
                         .revision = 3,
                         .status = SYN_DRAFT };
    Boussole__V1__SynthesisDocument *d = syn_document_build(a, labels, &in);
    assert_non_null(d);
    assert_string_equal(d->title, "Synthèse du bilan de compétences");
    assert_string_equal(d->subtitle, "Léa Dubois");
    assert_int_equal(d->n_sections, 9);
    /* Paragraphs and bullets. */
    Boussole__V1__SynthesisDocumentSection *s = d->sections[0];
    assert_string_equal(s->heading, "Circonstances du bilan");
    assert_int_equal(s->n_blocks, 3);
    assert_string_equal(s->blocks[0]->text, "Premier paragraphe\nsur deux lignes.");
    assert_int_equal(s->blocks[1]->kind,
                     BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_BULLETS);
    assert_int_equal(s->blocks[1]->n_items, 2);
    assert_string_equal(s->blocks[1]->items[1], "point deux");
    assert_string_equal(s->blocks[2]->text, "Fin.");
    /* An empty section says so. */
    assert_string_equal(d->sections[3]->blocks[0]->text, "Non renseigné.");
    /* An action step: numbered title, the date in French, empty fields left out. */
    Boussole__V1__SynthesisDocumentBlock *b = d->sections[6]->blocks[0];
    assert_string_equal(b->title, "1. Préparer le dossier de VAE");
    assert_int_equal(b->n_fields, 1);
    assert_string_equal(b->fields[0]->value, "15 mars 2027");
    /* The cover: period, hours, version, status; a draft says it is one. */
    bool period = false, draft = false;
    for (size_t i = 0; i < d->n_cover; i++) {
        period |= strcmp(d->cover[i]->value, "du 1er décembre 2026 au 28 février 2027") == 0;
    }
    for (size_t i = 0; i < d->n_notices; i++) {
        draft |= strstr(d->notices[i], "PROJET") != NULL;
    }
    assert_true(period);
    assert_true(draft);

    /* A shared extract: only its sections, and a notice saying it is one. */
    in.sections = SYN_MASK(BOUSSOLE__V1__SYNTHESIS_SECTION__SYNTHESIS_SECTION_ACTION_PLAN);
    in.shared = true;
    in.status = SYN_FINAL;
    in.final_ms = 1798761600000LL;
    d = syn_document_build(a, labels, &in);
    assert_int_equal(d->n_sections, 1);
    assert_string_equal(d->sections[0]->heading, "Plan d'action");
    bool shared = false;
    for (size_t i = 0; i < d->n_notices; i++) {
        shared |= strstr(d->notices[i], "Extrait communiqué") != NULL;
        assert_null(strstr(d->notices[i], "PROJET"));
    }
    assert_true(shared);
    bsl_arena_free(a);
}

static void markdown_escapes_what_people_type(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    syn_doc_input in = { .content = content(a),
                         .sections = SYN_MASK_SHAREABLE,
                         .version = 1,
                         .revision = 3,
                         .status = SYN_FINAL };
    Boussole__V1__SynthesisDocument *d = syn_document_build(a, labels, &in);
    size_t len = 0;
    char *md = syn_markdown_render(a, d, &len);
    assert_non_null(md);
    assert_int_equal(strlen(md), len);
    assert_non_null(strstr(md, "# Synthèse du bilan de compétences\n"));
    assert_non_null(strstr(md, "## 3. Compétences et aptitudes\n"));
    assert_non_null(strstr(md, "\\# pas un titre \\[lien\\](http://x) \\*gras\\*"));
    assert_non_null(strstr(md, "- point un\n- point deux\n"));
    assert_non_null(strstr(md, "Premier paragraphe  \nsur deux lignes."));
    assert_null(strstr(md, "\n# pas un titre"));
    bsl_arena_free(a);
}

/* ---- the PDF ----------------------------------------------------------------------------- */

static char *pdftotext(const unsigned char *pdf, size_t len)
{
    char path[] = "/tmp/syn-render-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, pdf, len), (ssize_t)len);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "pdftotext -enc UTF-8 %s -", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0, r;
    char *text = malloc(cap);
    while ((r = fread(text + n, 1, cap - n - 1, p)) > 0) {
        n += r;
    }
    text[n] = '\0';
    assert_int_equal(pclose(p), 0);
    unlink(path);
    return text;
}

static void pdf_renders_pages_sections_and_accents(void **state)
{
    (void)state;
    bsl_arena *a = bsl_arena_create();
    Boussole__V1__SynthesisContent *c = content(a);
    /* Enough text to need several pages. */
    char *long_text = bsl_arena_alloc(a, 9000);
    long_text[0] = '\0';
    for (int i = 0; i < 60; i++) {
        strcat(long_text, "Élément de parcours : responsabilités, réussites et apprentissages. ");
        if (i % 6 == 5) {
            strcat(long_text, "\n\n");
        }
    }
    c->path_explored = long_text;
    syn_doc_input in = { .content = c,
                         .sections = SYN_MASK_SHAREABLE,
                         .version = 1,
                         .revision = 3,
                         .status = SYN_FINAL,
                         .final_ms = 1798761600000LL };
    Boussole__V1__SynthesisDocument *d = syn_document_build(a, labels, &in);
    syn_pdf_options o = { .page_label = syn_label_text(labels, SYN_L_DOC_PAGE),
                          .contents = syn_label_text(labels, SYN_L_DOC_CONTENTS),
                          .create_ms = in.final_ms };
    unsigned char *pdf = NULL;
    size_t len = 0;
    assert_int_equal(syn_pdf_render(d, &o, &pdf, &len), BSL_OK);
    assert_true(len > 1000);
    assert_memory_equal(pdf, "%PDF-", 5);
    char *text = pdftotext(pdf, len);
    assert_non_null(strstr(text, "Synthèse du bilan de compétences"));
    assert_non_null(strstr(text, "Léa Dubois"));
    assert_non_null(strstr(text, "1. Circonstances du bilan"));
    assert_non_null(strstr(text, "9. Observations du bénéficiaire"));
    assert_non_null(strstr(text, "Élément de parcours"));
    assert_non_null(strstr(text, "Page 1 sur"));
    assert_non_null(strstr(text, "Page 3 sur"));
    assert_non_null(strstr(text, "Sommaire"));
    free(text);
    free(pdf);

    /* The same document renders to the same bytes (dates come from the input). */
    unsigned char *again = NULL;
    size_t len2 = 0;
    assert_int_equal(syn_pdf_render(d, &o, &again, &len2), BSL_OK);
    assert_true(len2 > 1000);
    free(again);

    /* A draft carries its mark on every page. */
    o.watermark = syn_label_text(labels, SYN_L_NOTICE_DRAFT);
    in.status = SYN_DRAFT;
    d = syn_document_build(a, labels, &in);
    assert_int_equal(syn_pdf_render(d, &o, &pdf, &len), BSL_OK);
    text = pdftotext(pdf, len);
    int marks = 0;
    for (char *p = strstr(text, "PROJET"); p != NULL; p = strstr(p + 1, "PROJET")) {
        marks++;
    }
    assert_true(marks >= 3);
    free(text);
    free(pdf);
    bsl_arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wording_file_is_checked),
        cmocka_unit_test(fill_and_dates),
        cmocka_unit_test(document_model),
        cmocka_unit_test(markdown_escapes_what_people_type),
        cmocka_unit_test(pdf_renders_pages_sections_and_accents),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
