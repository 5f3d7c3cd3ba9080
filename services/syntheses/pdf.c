/*
 * The document as PDF, laid out with pango (French text: accents, ligatures, line breaking)
 * and drawn with cairo's PDF surface. A4 portrait; a title page with the cover details, the
 * notices and a table of contents; then the numbered sections; "Page n sur N" in every
 * footer. The layout runs twice: the first pass only measures (where pages break, on which
 * page each section starts), the second draws with the total page count and the contents
 * known. Fonts: DejaVu Serif for text, DejaVu Sans for headings (Debian: fonts-dejavu-core).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <pango/pangocairo.h>

#include "boussole/err.h"
#include "render.h"

#define PAGE_W       595.276 /* A4 in points */
#define PAGE_H       841.890
#define MARGIN_X     64.0
#define TOP          64.0
#define BOTTOM       (PAGE_H - 72.0) /* text stops here; the footer lies below */
#define TEXT_W       (PAGE_W - 2 * MARGIN_X)
#define MAX_SECTIONS 16

typedef struct rgb {
    double r, g, b;
} rgb;

static const rgb ink = { 0.13, 0.13, 0.15 };
static const rgb accent = { 0.09, 0.24, 0.42 };
static const rgb muted = { 0.42, 0.44, 0.48 };
static const rgb alert = { 0.70, 0.12, 0.10 };

typedef struct flow {
    cairo_t *cr; /* NULL while measuring */
    PangoContext *pc;
    double y;
    int page;
    int pages; /* known in the drawing pass */
    int section_page[MAX_SECTIONS];
    const Boussole__V1__SynthesisDocument *doc;
    const char *page_label;
    const char *contents;
    const char *watermark;
} flow;

/* ---- text primitives --------------------------------------------------------------------- */

static PangoLayout *layout(flow *f, const char *font, double width, bool markup, const char *text)
{
    PangoLayout *l = pango_layout_new(f->pc);
    PangoFontDescription *fd = pango_font_description_from_string(font);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    if (markup) {
        pango_layout_set_markup(l, text, -1);
    } else {
        pango_layout_set_text(l, text, -1);
    }
    return l;
}

static void set_color(flow *f, rgb c)
{
    if (f->cr != NULL) {
        cairo_set_source_rgb(f->cr, c.r, c.g, c.b);
    }
}

static void footer(flow *f)
{
    if (f->cr == NULL) {
        return;
    }
    cairo_t *cr = f->cr;
    double y = PAGE_H - 52.0;
    cairo_set_source_rgb(cr, 0.80, 0.82, 0.85);
    cairo_set_line_width(cr, 0.5);
    cairo_move_to(cr, MARGIN_X, y);
    cairo_line_to(cr, PAGE_W - MARGIN_X, y);
    cairo_stroke(cr);

    PangoLayout *left = layout(f, "DejaVu Sans 7.5", TEXT_W * 0.7, false, f->doc->footer);
    set_color(f, muted);
    cairo_move_to(cr, MARGIN_X, y + 6);
    pango_cairo_show_layout(cr, left);
    g_object_unref(left);

    /* "Page {page} sur {pages}" */
    char label[128] = "";
    const char *t = f->page_label;
    size_t w = 0;
    for (const char *p = t; *p != '\0' && w + 12 < sizeof(label); p++) {
        if (strncmp(p, "{page}", 6) == 0) {
            w += (size_t)snprintf(label + w, sizeof(label) - w, "%d", f->page);
            p += 5;
        } else if (strncmp(p, "{pages}", 7) == 0) {
            w += (size_t)snprintf(label + w, sizeof(label) - w, "%d", f->pages);
            p += 6;
        } else {
            label[w++] = *p;
            label[w] = '\0';
        }
    }
    PangoLayout *right = layout(f, "DejaVu Sans 7.5", TEXT_W * 0.3, false, label);
    pango_layout_set_alignment(right, PANGO_ALIGN_RIGHT);
    cairo_move_to(cr, MARGIN_X + TEXT_W * 0.7, y + 6);
    pango_cairo_show_layout(cr, right);
    g_object_unref(right);

    if (f->watermark != NULL) {
        PangoLayout *wm = layout(f, "DejaVu Sans Bold 8", TEXT_W, false, f->watermark);
        pango_layout_set_alignment(wm, PANGO_ALIGN_CENTER);
        set_color(f, alert);
        cairo_move_to(cr, MARGIN_X, 30.0);
        pango_cairo_show_layout(cr, wm);
        g_object_unref(wm);
    }
}

static void new_page(flow *f)
{
    footer(f);
    if (f->cr != NULL) {
        cairo_show_page(f->cr);
    }
    f->page++;
    f->y = TOP;
}

/* Moves to a new page unless `need` points fit on this one. */
static void ensure(flow *f, double need)
{
    if (f->y + need > BOTTOM && f->y > TOP) {
        new_page(f);
    }
}

/* Draws a layout at x line by line, breaking pages between lines. */
static void flow_layout(flow *f, PangoLayout *l, double x, rgb color)
{
    PangoLayoutIter *it = pango_layout_get_iter(l);
    do {
        PangoRectangle logical;
        pango_layout_iter_get_line_extents(it, NULL, &logical);
        double top = logical.y / (double)PANGO_SCALE;
        double h = logical.height / (double)PANGO_SCALE;
        double base = pango_layout_iter_get_baseline(it) / (double)PANGO_SCALE;
        if (f->y + h > BOTTOM) {
            new_page(f);
        }
        if (f->cr != NULL) {
            set_color(f, color);
            cairo_move_to(f->cr, x + logical.x / (double)PANGO_SCALE, f->y + (base - top));
            pango_cairo_show_layout_line(f->cr, pango_layout_iter_get_line_readonly(it));
        }
        f->y += h;
    } while (pango_layout_iter_next_line(it));
    pango_layout_iter_free(it);
}

static double layout_height(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    return h / (double)PANGO_SCALE;
}

static void paragraph(flow *f, const char *font, double x, double width, const char *text,
                      bool justify, rgb color, double after)
{
    PangoLayout *l = layout(f, font, width, false, text);
    pango_layout_set_justify(l, justify);
    flow_layout(f, l, x, color);
    g_object_unref(l);
    f->y += after;
}

/* "<b>label :</b> value" with both parts escaped. */
static void labelled(flow *f, double x, double width, const char *label, const char *value)
{
    gchar *el = g_markup_escape_text(label, -1);
    gchar *ev = g_markup_escape_text(value, -1);
    gchar *m = g_strdup_printf("<span font_family=\"DejaVu Sans\" weight=\"bold\" size=\"9000\" "
                               "foreground=\"#3a3f47\">%s :</span> %s",
                               el, ev);
    PangoLayout *l = layout(f, "DejaVu Serif 10", width, true, m);
    flow_layout(f, l, x, ink);
    g_object_unref(l);
    g_free(m);
    g_free(el);
    g_free(ev);
    f->y += 2.0;
}

static void bullets(flow *f, double x, double width, char **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PangoLayout *l = layout(f, "DejaVu Serif 10.5", width - 14.0, false, items[i]);
        double first = 0;
        PangoLayoutIter *it = pango_layout_get_iter(l);
        PangoRectangle r;
        pango_layout_iter_get_line_extents(it, NULL, &r);
        first = r.height / (double)PANGO_SCALE;
        pango_layout_iter_free(it);
        ensure(f, first);
        if (f->cr != NULL) {
            PangoLayout *dot = layout(f, "DejaVu Serif 10.5", 12.0, false, "\xe2\x80\xa2");
            set_color(f, accent);
            cairo_move_to(f->cr, x + 2.0, f->y);
            pango_cairo_show_layout(f->cr, dot);
            g_object_unref(dot);
        }
        flow_layout(f, l, x + 14.0, ink);
        g_object_unref(l);
        f->y += 2.5;
    }
    f->y += 4.0;
}

/* ---- the parts of the document ----------------------------------------------------------- */

static void title_page(flow *f)
{
    const Boussole__V1__SynthesisDocument *d = f->doc;
    cairo_t *cr = f->cr;
    if (cr != NULL) {
        /* A band of colour down the left edge: the document's mark. */
        cairo_set_source_rgb(cr, accent.r, accent.g, accent.b);
        cairo_rectangle(cr, 0, 0, 18.0, PAGE_H);
        cairo_fill(cr);
    }
    f->y = 150.0;
    paragraph(f, "DejaVu Serif Bold 26", MARGIN_X, TEXT_W, d->title, false, accent, 10.0);
    paragraph(f, "DejaVu Sans 15", MARGIN_X, TEXT_W, d->subtitle, false, ink, 18.0);
    if (cr != NULL) {
        cairo_set_source_rgb(cr, accent.r, accent.g, accent.b);
        cairo_set_line_width(cr, 1.2);
        cairo_move_to(cr, MARGIN_X, f->y);
        cairo_line_to(cr, MARGIN_X + 120.0, f->y);
        cairo_stroke(cr);
    }
    f->y += 22.0;
    for (size_t i = 0; i < d->n_cover; i++) {
        const Boussole__V1__SynthesisDocumentField *fd = d->cover[i];
        double y0 = f->y;
        PangoLayout *lab = layout(f, "DejaVu Sans Bold 8.5", 150.0, false, fd->label);
        PangoLayout *val = layout(f, "DejaVu Serif 10.5", TEXT_W - 165.0, false, fd->value);
        if (cr != NULL) {
            set_color(f, muted);
            cairo_move_to(cr, MARGIN_X, y0 + 1.5);
            pango_cairo_show_layout(cr, lab);
            set_color(f, ink);
            cairo_move_to(cr, MARGIN_X + 165.0, y0);
            pango_cairo_show_layout(cr, val);
        }
        double h = layout_height(val), hl = layout_height(lab);
        f->y = y0 + (h > hl ? h : hl) + 7.0;
        g_object_unref(lab);
        g_object_unref(val);
    }
    f->y += 14.0;
    for (size_t i = 0; i < d->n_notices; i++) {
        PangoLayout *l = layout(f, "DejaVu Sans Oblique 8.5", TEXT_W - 20.0, false, d->notices[i]);
        double h = layout_height(l);
        if (cr != NULL) {
            cairo_set_source_rgb(cr, 0.95, 0.96, 0.97);
            cairo_rectangle(cr, MARGIN_X, f->y - 5.0, TEXT_W, h + 10.0);
            cairo_fill(cr);
            bool draft = f->watermark != NULL && strcmp(d->notices[i], f->watermark) == 0;
            set_color(f, draft ? alert : muted);
            cairo_move_to(cr, MARGIN_X + 10.0, f->y);
            pango_cairo_show_layout(cr, l);
        }
        f->y += h + 16.0;
        g_object_unref(l);
    }
    /* The contents, with the pages the measuring pass found. */
    if (d->n_sections > 0 && f->y < BOTTOM - 40.0 - 16.0 * (double)d->n_sections) {
        f->y += 8.0;
        paragraph(f, "DejaVu Sans Bold 10", MARGIN_X, TEXT_W, f->contents, false, accent, 6.0);
        for (size_t i = 0; i < d->n_sections && i < MAX_SECTIONS; i++) {
            char *entry = g_strdup_printf("%zu. %s", i + 1, d->sections[i]->heading);
            char *page = g_strdup_printf("%d", f->section_page[i]);
            PangoLayout *l = layout(f, "DejaVu Serif 10", TEXT_W - 40.0, false, entry);
            PangoLayout *p = layout(f, "DejaVu Serif 10", 40.0, false, page);
            pango_layout_set_alignment(p, PANGO_ALIGN_RIGHT);
            if (cr != NULL && f->pages > 0) {
                set_color(f, ink);
                cairo_move_to(cr, MARGIN_X, f->y);
                pango_cairo_show_layout(cr, l);
                cairo_move_to(cr, MARGIN_X + TEXT_W - 40.0, f->y);
                pango_cairo_show_layout(cr, p);
            }
            f->y += layout_height(l) + 3.0;
            g_object_unref(l);
            g_object_unref(p);
            g_free(entry);
            g_free(page);
        }
    }
    new_page(f);
}

static void heading(flow *f, size_t index, const char *text)
{
    ensure(f, 90.0); /* a heading never ends a page: keep it with a few lines */
    if (f->y > TOP) {
        f->y += 10.0;
    }
    char *t = g_strdup_printf("%zu. %s", index + 1, text);
    paragraph(f, "DejaVu Sans Bold 13.5", MARGIN_X, TEXT_W, t, false, accent, 3.0);
    g_free(t);
    if (f->cr != NULL) {
        cairo_set_source_rgb(f->cr, accent.r, accent.g, accent.b);
        cairo_set_line_width(f->cr, 0.6);
        cairo_move_to(f->cr, MARGIN_X, f->y);
        cairo_line_to(f->cr, PAGE_W - MARGIN_X, f->y);
        cairo_stroke(f->cr);
    }
    f->y += 10.0;
}

static void section(flow *f, size_t index, const Boussole__V1__SynthesisDocumentSection *s)
{
    heading(f, index, s->heading);
    if (index < MAX_SECTIONS) {
        f->section_page[index] = f->page;
    }
    for (size_t k = 0; k < s->n_blocks; k++) {
        const Boussole__V1__SynthesisDocumentBlock *b = s->blocks[k];
        switch (b->kind) {
        case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_PARAGRAPH:
            paragraph(f, "DejaVu Serif 10.5", MARGIN_X, TEXT_W, b->text, true, ink, 8.0);
            break;
        case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_BULLETS:
            bullets(f, MARGIN_X, TEXT_W, b->items, b->n_items);
            break;
        case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_SUBHEADING:
            ensure(f, 60.0);
            f->y += 4.0;
            paragraph(f, "DejaVu Sans Bold 11", MARGIN_X, TEXT_W, b->title, false, accent, 6.0);
            break;
        case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_ENTRY: {
            ensure(f, 48.0);
            paragraph(f, "DejaVu Sans Bold 10.5", MARGIN_X, TEXT_W, b->title, false, ink, 3.0);
            for (size_t j = 0; j < b->n_fields; j++) {
                labelled(f, MARGIN_X + 12.0, TEXT_W - 12.0, b->fields[j]->label,
                         b->fields[j]->value);
            }
            if (b->n_items > 0) {
                bullets(f, MARGIN_X + 12.0, TEXT_W - 12.0, b->items, b->n_items);
            }
            if (b->text[0] != '\0') {
                paragraph(f, "DejaVu Serif 10.5", MARGIN_X + 12.0, TEXT_W - 12.0, b->text, true,
                          ink, 4.0);
            }
            f->y += 6.0;
            break;
        }
        default:
            break;
        }
    }
}

static void document(flow *f)
{
    f->page = 1;
    f->y = TOP;
    title_page(f);
    for (size_t i = 0; i < f->doc->n_sections; i++) {
        section(f, i, f->doc->sections[i]);
    }
    footer(f);
}

/* ---- output ------------------------------------------------------------------------------ */

typedef struct sink {
    unsigned char *p;
    size_t len, cap;
    bool oom;
} sink;

static cairo_status_t on_write(void *arg, const unsigned char *data, unsigned int n)
{
    sink *s = arg;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 65536;
        while (s->len + n > cap) {
            cap *= 2;
        }
        unsigned char *p = realloc(s->p, cap);
        if (p == NULL) {
            s->oom = true;
            return CAIRO_STATUS_WRITE_ERROR;
        }
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, data, n);
    s->len += n;
    return CAIRO_STATUS_SUCCESS;
}

static PangoContext *context(void)
{
    /* The default font map is per thread and keeps its font cache between renderings. */
    PangoFontMap *fm = pango_cairo_font_map_get_default();
    PangoContext *pc = pango_font_map_create_context(fm);
    pango_cairo_context_set_resolution(pc, 72.0); /* pango units are points */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(pc, fo);
    cairo_font_options_destroy(fo);
    pango_context_set_language(pc, pango_language_from_string("fr-FR"));
    return pc;
}

int syn_pdf_render(const Boussole__V1__SynthesisDocument *doc, const syn_pdf_options *opts,
                   unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    flow f;
    memset(&f, 0, sizeof(f));
    f.doc = doc;
    f.page_label = opts->page_label ? opts->page_label : "{page} / {pages}";
    f.contents = opts->contents ? opts->contents : "";
    f.watermark = opts->watermark;
    f.pc = context();

    /* Pass 1: where everything falls. */
    document(&f);
    int pages = f.page;

    /* Pass 2: draw. */
    sink s = { 0 };
    cairo_surface_t *surface = cairo_pdf_surface_create_for_stream(on_write, &s, PAGE_W, PAGE_H);
    char title[512], date[32] = "";
    snprintf(title, sizeof(title), "%s — %s", doc->title, doc->subtitle);
    time_t t = (time_t)(opts->create_ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL) {
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Boussole");
    if (date[0] != '\0') {
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, date);
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_MOD_DATE, date);
    }
    cairo_t *cr = cairo_create(surface);
    f.cr = cr;
    f.pages = pages;
    document(&f);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surface);
    cairo_status_t st = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    g_object_unref(f.pc);
    if (st != CAIRO_STATUS_SUCCESS || s.oom) {
        free(s.p);
        return s.oom ? BSL_ENOMEM : BSL_EIO;
    }
    *out = s.p;
    *len = s.len;
    return BSL_OK;
}
