/* The document as Markdown (CommonMark). Every text that people typed is escaped, so that a
 * beneficiary's "# " or "[link](...)" prints as typed instead of becoming markup. */
#include <stdio.h>
#include <string.h>

#include "render.h"

typedef struct buf {
    bsl_arena *a;
    char *p;
    size_t len, cap;
    bool oom;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *p = bsl_arena_alloc(b->a, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        if (b->len) {
            memcpy(p, b->p, b->len);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Escapes the characters that CommonMark could read as markup, and those that start a block
 * at the beginning of a line. Line breaks inside a paragraph become hard breaks. */
static void text(buf *b, const char *s)
{
    bool line_start = true;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (c == '\n') {
            puts_(b, "  \n");
            line_start = true;
            continue;
        }
        if (line_start) {
            /* "1. " or "1) " would start an ordered list. */
            const char *q = p;
            while (*q >= '0' && *q <= '9') {
                q++;
            }
            if (q > p && (*q == '.' || *q == ')')) {
                put(b, p, (size_t)(q - p));
                put(b, "\\", 1);
                put(b, q, 1);
                p = q;
                line_start = false;
                continue;
            }
            if (c == '-' || c == '+' || c == '=') {
                put(b, "\\", 1);
            }
        }
        line_start = false;
        if (strchr("\\`*_[]{}<>#|!~&", c) != NULL) {
            put(b, "\\", 1);
        }
        put(b, p, 1);
    }
}

static void field(buf *b, const Boussole__V1__SynthesisDocumentField *f)
{
    puts_(b, "- **");
    text(b, f->label);
    puts_(b, "** : ");
    text(b, f->value);
    puts_(b, "\n");
}

char *syn_markdown_render(bsl_arena *a, const Boussole__V1__SynthesisDocument *d, size_t *len)
{
    buf b = { .a = a };
    puts_(&b, "# ");
    text(&b, d->title);
    puts_(&b, "\n\n## ");
    text(&b, d->subtitle);
    puts_(&b, "\n\n");
    for (size_t i = 0; i < d->n_cover; i++) {
        field(&b, d->cover[i]);
    }
    puts_(&b, "\n");
    for (size_t i = 0; i < d->n_notices; i++) {
        puts_(&b, "> ");
        text(&b, d->notices[i]);
        puts_(&b, "\n>\n");
    }
    if (d->n_notices && !b.oom && b.len >= 2) {
        b.len -= 2; /* the last ">\n" */
        puts_(&b, "\n");
    }
    for (size_t i = 0; i < d->n_sections; i++) {
        const Boussole__V1__SynthesisDocumentSection *s = d->sections[i];
        char num[32];
        snprintf(num, sizeof(num), "## %zu. ", i + 1);
        puts_(&b, num);
        text(&b, s->heading);
        puts_(&b, "\n\n");
        for (size_t k = 0; k < s->n_blocks; k++) {
            const Boussole__V1__SynthesisDocumentBlock *blk = s->blocks[k];
            switch (blk->kind) {
            case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_PARAGRAPH:
                text(&b, blk->text);
                puts_(&b, "\n\n");
                break;
            case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_BULLETS:
                for (size_t j = 0; j < blk->n_items; j++) {
                    puts_(&b, "- ");
                    text(&b, blk->items[j]);
                    puts_(&b, "\n");
                }
                puts_(&b, "\n");
                break;
            case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_SUBHEADING:
                puts_(&b, "### ");
                text(&b, blk->title);
                puts_(&b, "\n\n");
                break;
            case BOUSSOLE__V1__SYNTHESIS_DOCUMENT_BLOCK__KIND__KIND_ENTRY:
                puts_(&b, "#### ");
                text(&b, blk->title);
                puts_(&b, "\n\n");
                for (size_t j = 0; j < blk->n_fields; j++) {
                    field(&b, blk->fields[j]);
                }
                for (size_t j = 0; j < blk->n_items; j++) {
                    puts_(&b, "- ");
                    text(&b, blk->items[j]);
                    puts_(&b, "\n");
                }
                if (blk->n_fields || blk->n_items) {
                    puts_(&b, "\n");
                }
                if (blk->text[0] != '\0') {
                    text(&b, blk->text);
                    puts_(&b, "\n\n");
                }
                break;
            default:
                break;
            }
        }
    }
    puts_(&b, "---\n\n*");
    text(&b, d->footer);
    puts_(&b, "*\n");
    if (b.oom) {
        return NULL;
    }
    *len = b.len;
    return b.p;
}
