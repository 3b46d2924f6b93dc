/* Selector matching: could a style rule's selector list match an element of
 * the parsed mail when the mail is displayed (no scripting, no user input)?
 * The list is parsed with the CSS tokenizer into small fixed arrays, one
 * complex selector at a time, and matched right to left over Gumbo's tree.
 *
 * A list that does not parse matches nothing, as browsers drop the rule.
 * What cannot be decided cheaply (form state, :has(), :lang(), "of S") is
 * assumed to match, so that the answer errs towards a superset. Ancestor and
 * sibling walks are loops, recursion follows only the selector's own
 * structure, and a step budget bounds the work on hostile trees. */
#include "html/css.h"

#include <stdlib.h>
#include <string.h>

#include "bulwark/util.h"

#define MAX_SIMPLE 128   /* per complex selector, :is() and :not() included */
#define MAX_COMPOUND 64
#define MAX_COMPLEX 32
#define MAX_NEST 8       /* :is(:not(:is(...))) deeper than this is assumed */
#define MAX_STEPS 1000000L

#define ERR (-2)  /* syntax error */
#define FULL (-1) /* no room: the complex selector is assumed to match */

enum kind {
	S_TYPE, S_ID, S_CLASS, S_ATTR, S_NEVER, S_ASSUME, S_LINK, S_ROOT, S_CHECKED, S_EMPTY,
	S_NTH, S_NOT, S_IS,
	S_NONE /* pseudo-elements: the element itself */
};

enum { A_EXISTS, A_EQ, A_INCLUDES, A_DASH, A_PREFIX, A_SUFFIX, A_SUBSTR };

typedef struct simple {
	unsigned char kind, op;
	signed char icase;   /* attribute flag: 1 i, 0 s, -1 none */
	bool last, of_type;  /* S_NTH: count from the end, among the same type */
	const char *name, *value;
	int a, b;            /* S_NTH: an+b */
	int list;            /* S_NOT, S_IS: first complex selector, -1 if none */
	int next;            /* next simple of the compound, -1 at the end */
} simple;

typedef struct compound {
	int first; /* first simple, -1 for * */
	int left;  /* compound to the left, -1 for none */
	char comb; /* combinator to the left: ' ', '>', '+', '~' */
} compound;

typedef struct complex_sel {
	int right; /* rightmost compound */
	int next;  /* next in its :is() / :not() list */
} complex_sel;

typedef struct sel {
	bw_css_lexer lx;
	bw_css_tok t;
	char *arena; /* decoded names and values */
	size_t used;
	simple sp[MAX_SIMPLE], scratch;
	compound cp[MAX_COMPOUND];
	complex_sel cx[MAX_COMPLEX];
	int nsp, ncp, ncx;
	bool full;
	bool uncertain; /* a match relied on something assumed */
	long steps;
	int quirks;     /* the document is in quirks mode; -1: not looked up yet */
} sel;

/* ---- parsing ---- */

static void next(sel *S)
{
	bw_css_lex(&S->lx, &S->t);
}

static bool skip_ws(sel *S)
{
	bool any = false;
	for (; S->t.type == BW_CSS_WS; next(S))
		any = true;
	return any;
}

static bool is_delim(const bw_css_tok *t, char c)
{
	return t->type == BW_CSS_DELIM && t->delim == c;
}

static bw_css_tok peek(const sel *S)
{
	bw_css_lexer lx = S->lx;
	bw_css_tok t;
	bw_css_lex(&lx, &t);
	return t;
}

/* The token's value, decoded into the arena (sized 4 bytes per input byte:
 * at most 3 per decoded byte, plus the NULs). */
static const char *str(sel *S, const bw_css_tok *t)
{
	char *out = S->arena + S->used;
	S->used += bw_css_unescape(S->lx.s, t->vstart, t->vend, t->type == BW_CSS_STRING, out) + 1;
	return out;
}

typedef struct build {
	int first, last;
} build;

static simple *add(sel *S, build *b, enum kind kind)
{
	if (S->nsp == MAX_SIMPLE) {
		S->full = true;
		return &S->scratch;
	}
	int i = S->nsp++;
	S->sp[i] = (simple){ .kind = (unsigned char)kind, .icase = -1, .list = -1, .next = -1 };
	if (b->last >= 0)
		S->sp[b->last].next = i;
	else
		b->first = i;
	b->last = i;
	return &S->sp[i];
}

/* Past a function's arguments and its ")", or (comma) up to the "," or ")"
 * that ends a bad selector in a forgiving list. */
static void skip_args(sel *S, bool comma)
{
	for (int depth = 0;; next(S)) {
		bw_css_tok_type t = S->t.type;
		if (t == BW_CSS_EOF)
			return;
		if (depth == 0 && (t == BW_CSS_RPAREN || (comma && t == BW_CSS_COMMA))) {
			if (!comma)
				next(S);
			return;
		}
		if (t == BW_CSS_FUNCTION || t == BW_CSS_LPAREN || t == BW_CSS_LBRACKET)
			depth++;
		else if ((t == BW_CSS_RPAREN || t == BW_CSS_RBRACKET) && depth)
			depth--;
	}
}

/* [name], [name op value flag] */
static bool parse_attr(sel *S, build *b)
{
	next(S);
	skip_ws(S);
	if (is_delim(&S->t, '*')) {
		next(S);
		if (!is_delim(&S->t, '|'))
			return false;
	}
	if (is_delim(&S->t, '|'))
		next(S);
	if (S->t.type != BW_CSS_IDENT)
		return false;
	bw_css_tok name = S->t;
	next(S);
	if (is_delim(&S->t, '|')) { /* ns|name, unless it is the |= operator */
		bw_css_tok after = peek(S);
		if (after.type == BW_CSS_IDENT) {
			next(S);
			name = S->t;
			next(S);
		}
	}
	skip_ws(S);
	simple *x = add(S, b, S_ATTR);
	x->name = str(S, &name);
	x->op = A_EXISTS;
	if (S->t.type == BW_CSS_RBRACKET) {
		next(S);
		return true;
	}
	static const char ops[] = "~|^$*";
	char c = S->t.type == BW_CSS_DELIM ? S->t.delim : 0;
	const char *o = c ? strchr(ops, c) : NULL;
	if (c == '=') {
		x->op = A_EQ;
	} else if (o) {
		size_t end = S->t.end;
		next(S);
		if (!is_delim(&S->t, '=') || S->t.start != end)
			return false;
		x->op = (unsigned char)(A_INCLUDES + (o - ops));
	} else {
		return false;
	}
	next(S);
	skip_ws(S);
	if (S->t.type != BW_CSS_IDENT && S->t.type != BW_CSS_STRING)
		return false;
	x->value = str(S, &S->t);
	next(S);
	skip_ws(S);
	if (S->t.type == BW_CSS_IDENT) {
		if (bw_css_tok_ieq(S->lx.s, &S->t, "i"))
			x->icase = 1;
		else if (bw_css_tok_ieq(S->lx.s, &S->t, "s"))
			x->icase = 0;
		else
			return false;
		next(S);
		skip_ws(S);
	}
	if (S->t.type == BW_CSS_EOF) /* blocks close at EOF */
		return true;
	if (S->t.type != BW_CSS_RBRACKET)
		return false;
	next(S);
	return true;
}

/* Decimal digits at *s, or -1 when there are none. */
static long digits(const char **s)
{
	long n = -1;
	for (; **s >= '0' && **s <= '9'; (*s)++)
		n = n < 0 ? **s - '0' : n < 1000000 ? n * 10 + (**s - '0') : n;
	return n;
}

/* An+B, lower-cased and without white space: odd, even, 3, -n+2, 2n-1... */
static bool parse_anb(const char *s, int *a, int *b)
{
	if (!strcmp(s, "odd") || !strcmp(s, "even")) {
		*a = 2;
		*b = s[0] == 'o';
		return true;
	}
	int sign = *s == '-' ? -1 : 1;
	if (*s == '+' || *s == '-')
		s++;
	long num = digits(&s);
	if (*s != 'n') {
		*a = 0;
		*b = (int)(sign * num);
		return num >= 0 && !*s;
	}
	*a = (int)(sign * (num < 0 ? 1 : num));
	*b = 0;
	if (!*++s)
		return true;
	if (*s != '+' && *s != '-')
		return false;
	sign = *s++ == '-' ? -1 : 1;
	num = digits(&s);
	*b = (int)(sign * num);
	return num >= 0 && !*s;
}

/* The arguments of :nth-*(), after the function token. */
static bool parse_nth(sel *S, build *b, bool last, bool of_type)
{
	char buf[32];
	size_t n = 0;
	bool of = false;
	for (;; next(S)) {
		if (S->t.type == BW_CSS_EOF)
			break;
		if (S->t.type == BW_CSS_RPAREN) {
			next(S);
			break;
		}
		if (S->t.type == BW_CSS_WS)
			continue;
		if (n && S->t.type == BW_CSS_IDENT && bw_css_tok_ieq(S->lx.s, &S->t, "of")) {
			of = true; /* An+B of S: counting matches of S is not done */
			next(S);
			skip_args(S, false);
			break;
		}
		if (S->t.type != BW_CSS_IDENT && S->t.type != BW_CSS_NUMBER &&
		    S->t.type != BW_CSS_DIMENSION && !is_delim(&S->t, '+'))
			return false;
		size_t len = S->t.end - S->t.start;
		if (n + len >= sizeof buf)
			return false;
		for (size_t i = 0; i < len; i++) {
			char c = S->lx.s[S->t.start + i];
			buf[n++] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
	}
	buf[n] = '\0';
	int A, B;
	if (!parse_anb(buf, &A, &B))
		return false;
	simple *x = add(S, b, of ? S_ASSUME : S_NTH);
	x->a = A;
	x->b = B;
	x->last = last;
	x->of_type = of_type;
	return true;
}

static int parse_list(sel *S, int depth, bool forgiving);

typedef struct pseudo {
	const char *name;
	enum kind kind;
} pseudo;

static const pseudo pseudo_classes[] = {
	/* what the user does, and states no mail starts in */
	{ "hover", S_NEVER }, { "active", S_NEVER }, { "focus", S_NEVER }, { "focus-within", S_NEVER },
	{ "focus-visible", S_NEVER }, { "visited", S_NEVER }, { "target", S_NEVER },
	{ "target-within", S_NEVER }, { "current", S_NEVER }, { "past", S_NEVER }, { "future", S_NEVER },
	{ "playing", S_NEVER }, { "paused", S_NEVER }, { "seeking", S_NEVER }, { "buffering", S_NEVER },
	{ "stalled", S_NEVER }, { "muted", S_NEVER }, { "volume-locked", S_NEVER },
	{ "fullscreen", S_NEVER }, { "-webkit-full-screen", S_NEVER }, { "modal", S_NEVER },
	{ "popover-open", S_NEVER }, { "picture-in-picture", S_NEVER }, { "autofill", S_NEVER },
	{ "-webkit-autofill", S_NEVER }, { "user-invalid", S_NEVER }, { "user-valid", S_NEVER },
	{ "host", S_NEVER }, { "xr-overlay", S_NEVER }, { "-webkit-drag", S_NEVER },
	{ "active-view-transition", S_NEVER },
	/* form and element states not worked out */
	{ "enabled", S_ASSUME }, { "disabled", S_ASSUME }, { "default", S_ASSUME },
	{ "indeterminate", S_ASSUME }, { "placeholder-shown", S_ASSUME }, { "valid", S_ASSUME },
	{ "invalid", S_ASSUME }, { "in-range", S_ASSUME }, { "out-of-range", S_ASSUME },
	{ "required", S_ASSUME }, { "optional", S_ASSUME }, { "read-only", S_ASSUME },
	{ "read-write", S_ASSUME }, { "defined", S_ASSUME }, { "open", S_ASSUME },
	{ "closed", S_ASSUME }, { "scope", S_ASSUME }, { "window-inactive", S_ASSUME },
	/* scrollbar parts, with ::-webkit-scrollbar */
	{ "horizontal", S_ASSUME }, { "vertical", S_ASSUME }, { "decrement", S_ASSUME },
	{ "increment", S_ASSUME }, { "start", S_ASSUME }, { "end", S_ASSUME },
	{ "double-button", S_ASSUME }, { "single-button", S_ASSUME }, { "no-button", S_ASSUME },
	{ "corner-present", S_ASSUME },
	{ "link", S_LINK }, { "any-link", S_LINK }, { "-webkit-any-link", S_LINK },
	{ "root", S_ROOT }, { "empty", S_EMPTY }, { "checked", S_CHECKED },
	/* CSS 2 pseudo-elements */
	{ "before", S_NONE }, { "after", S_NONE }, { "first-line", S_NONE }, { "first-letter", S_NONE },
};

/* first-child and the like: :nth-*(1) */
static const struct {
	const char *name;
	bool last, of_type, only;
} structural[] = {
	{ "first-child", false, false, false }, { "last-child", true, false, false },
	{ "only-child", false, false, true }, { "first-of-type", false, true, false },
	{ "last-of-type", true, true, false }, { "only-of-type", false, true, true },
};

static const char *const pseudo_elements[] = {
	"before", "after", "marker", "placeholder", "selection", "first-line", "first-letter",
	"backdrop", "file-selector-button", "target-text", "spelling-error", "grammar-error", "cue",
	"view-transition", "details-content", "picker-icon", "checkmark", "scroll-marker",
	"scroll-marker-group", "column", "search-text",
	/* functions */
	"part", "slotted", "highlight", "view-transition-group", "view-transition-image-pair",
	"view-transition-old", "view-transition-new", "picker", "scroll-button",
};

static bool known_pseudo_element(const char *name)
{
	if (!strncmp(name, "-webkit-", 8)) /* Chromium accepts any of these */
		return true;
	for (size_t i = 0; i < sizeof pseudo_elements / sizeof pseudo_elements[0]; i++)
		if (!strcmp(name, pseudo_elements[i]))
			return true;
	return false;
}

/* ":" and what follows. */
static bool parse_pseudo(sel *S, build *b, int depth)
{
	char name[40];
	next(S);
	if (S->t.type == BW_CSS_COLON) {
		next(S);
		bool fn = S->t.type == BW_CSS_FUNCTION;
		if (!fn && S->t.type != BW_CSS_IDENT)
			return false;
		if (!known_pseudo_element(bw_css_tok_lower(S->lx.s, &S->t, name, sizeof name)))
			return false;
		next(S);
		if (fn)
			skip_args(S, false);
		return true;
	}
	if (S->t.type == BW_CSS_IDENT) {
		bw_css_tok_lower(S->lx.s, &S->t, name, sizeof name);
		next(S);
		for (size_t i = 0; i < sizeof pseudo_classes / sizeof pseudo_classes[0]; i++) {
			if (strcmp(name, pseudo_classes[i].name))
				continue;
			if (pseudo_classes[i].kind != S_NONE)
				add(S, b, pseudo_classes[i].kind);
			return true;
		}
		for (size_t i = 0; i < sizeof structural / sizeof structural[0]; i++) {
			if (strcmp(name, structural[i].name))
				continue;
			for (int end = 0; end <= structural[i].only; end++) {
				simple *x = add(S, b, S_NTH);
				x->b = 1;
				x->last = structural[i].last || end;
				x->of_type = structural[i].of_type;
			}
			return true;
		}
		return false;
	}
	if (S->t.type != BW_CSS_FUNCTION)
		return false;
	bw_css_tok_lower(S->lx.s, &S->t, name, sizeof name);
	next(S);
	if (!strcmp(name, "not") || !strcmp(name, "is") || !strcmp(name, "where") || !strcmp(name, "-webkit-any")) {
		bool negate = name[0] == 'n';
		if (depth >= MAX_NEST) {
			skip_args(S, false);
			add(S, b, S_ASSUME);
			return true;
		}
		int list = parse_list(S, depth + 1, !negate);
		if (list == ERR)
			return false;
		add(S, b, negate ? S_NOT : S_IS)->list = list;
		return true;
	}
	if (!strncmp(name, "nth-", 4)) {
		bool last = !strncmp(name + 4, "last-", 5);
		const char *what = name + (last ? 9 : 4);
		if (strcmp(what, "child") && strcmp(what, "of-type"))
			return false;
		return parse_nth(S, b, last, what[0] == 'o');
	}
	/* functions whose arguments are not looked at */
	static const pseudo opaque[] = {
		{ "lang", S_ASSUME }, { "dir", S_ASSUME }, { "has", S_ASSUME }, { "host", S_NEVER },
		{ "host-context", S_NEVER }, { "state", S_NEVER }, { "active-view-transition-type", S_NEVER },
	};
	for (size_t i = 0; i < sizeof opaque / sizeof opaque[0]; i++) {
		if (!strcmp(name, opaque[i].name)) {
			skip_args(S, false);
			add(S, b, opaque[i].kind);
			return true;
		}
	}
	return false;
}

static bool starts_compound(const bw_css_tok *t)
{
	return t->type == BW_CSS_IDENT || t->type == BW_CSS_HASH || t->type == BW_CSS_LBRACKET ||
	       t->type == BW_CSS_COLON || is_delim(t, '*') || is_delim(t, '.') || is_delim(t, '|') ||
	       is_delim(t, '&');
}

static int parse_compound(sel *S, int depth)
{
	build b = { -1, -1 };
	bool any = false;
	if (S->t.type == BW_CSS_IDENT || is_delim(&S->t, '*') || is_delim(&S->t, '|')) {
		bw_css_tok name = S->t; /* the type, or a namespace prefix (ignored) */
		if (!is_delim(&S->t, '|'))
			next(S);
		if (is_delim(&S->t, '|')) {
			next(S);
			if (S->t.type != BW_CSS_IDENT && !is_delim(&S->t, '*'))
				return ERR;
			name = S->t;
			next(S);
		}
		if (name.type == BW_CSS_IDENT)
			add(S, &b, S_TYPE)->name = str(S, &name);
		any = true;
	}
	for (;; any = true) {
		if (S->t.type == BW_CSS_HASH) {
			if (!S->t.id)
				return ERR;
			add(S, &b, S_ID)->name = str(S, &S->t);
			next(S);
		} else if (is_delim(&S->t, '.')) {
			next(S);
			if (S->t.type != BW_CSS_IDENT)
				return ERR;
			add(S, &b, S_CLASS)->name = str(S, &S->t);
			next(S);
		} else if (S->t.type == BW_CSS_LBRACKET) {
			if (!parse_attr(S, &b))
				return ERR;
		} else if (S->t.type == BW_CSS_COLON) {
			if (!parse_pseudo(S, &b, depth))
				return ERR;
		} else if (is_delim(&S->t, '&')) { /* outside nesting it is :scope */
			add(S, &b, S_ASSUME);
			next(S);
		} else {
			break;
		}
	}
	if (!any)
		return ERR;
	if (S->ncp == MAX_COMPOUND) {
		S->full = true;
		return FULL;
	}
	S->cp[S->ncp] = (compound){ .first = b.first, .left = -1 };
	return S->ncp++;
}

static int parse_complex(sel *S, int depth)
{
	int right = -1;
	char comb = 0;
	for (;;) {
		int c = parse_compound(S, depth);
		if (c == ERR)
			return ERR;
		if (c >= 0) {
			S->cp[c].comb = comb;
			S->cp[c].left = right;
			right = c;
		}
		bool ws = skip_ws(S);
		if (is_delim(&S->t, '>') || is_delim(&S->t, '+') || is_delim(&S->t, '~')) {
			comb = S->t.delim;
			next(S);
			skip_ws(S);
		} else if (ws && starts_compound(&S->t)) {
			comb = ' ';
		} else {
			break;
		}
	}
	if (S->ncx == MAX_COMPLEX || right < 0) {
		S->full = true;
		return FULL;
	}
	S->cx[S->ncx] = (complex_sel){ .right = right, .next = -1 };
	return S->ncx++;
}

/* The selector list of :is() or :not(), after the function token, through
 * its ")". Returns its first complex selector, -1 if none, or ERR. */
static int parse_list(sel *S, int depth, bool forgiving)
{
	int head = -1, tail = -1;
	for (;;) {
		skip_ws(S);
		int c = parse_complex(S, depth);
		skip_ws(S);
		bool ended = S->t.type == BW_CSS_COMMA || S->t.type == BW_CSS_RPAREN || S->t.type == BW_CSS_EOF;
		if (c == ERR || !ended) {
			if (!forgiving)
				return ERR;
			skip_args(S, true);
		} else if (c >= 0) {
			if (tail >= 0)
				S->cx[tail].next = c;
			else
				head = c;
			tail = c;
		}
		if (S->t.type != BW_CSS_COMMA)
			break;
		next(S);
	}
	if (S->t.type == BW_CSS_RPAREN)
		next(S);
	return head;
}

/* ---- the tree ---- */

static bool is_elem(const GumboNode *n)
{
	return n && (n->type == GUMBO_NODE_ELEMENT || n->type == GUMBO_NODE_TEMPLATE);
}

static const GumboNode *parent_elem(const GumboNode *n)
{
	return is_elem(n->parent) ? n->parent : NULL;
}

static const GumboVector *siblings(const GumboNode *n)
{
	const GumboNode *p = n->parent;
	if (!p)
		return NULL;
	return p->type == GUMBO_NODE_DOCUMENT ? &p->v.document.children : &p->v.element.children;
}

static size_t index_of(const GumboNode *n, const GumboVector *v)
{
	size_t i = n->index_within_parent;
	if (i < v->length && v->data[i] == n)
		return i;
	for (i = 0; i < v->length && v->data[i] != n; i++)
		;
	return i;
}

static const GumboNode *prev_elem(sel *S, const GumboNode *n)
{
	const GumboVector *v = siblings(n);
	if (!v)
		return NULL;
	for (size_t i = index_of(n, v); i-- > 0; S->steps++)
		if (is_elem(v->data[i]))
			return v->data[i];
	return NULL;
}

static bool name_eq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++) {
		char x = a[i], y = b[i];
		if ((x >= 'A' && x <= 'Z' ? x + 32 : x) != (y >= 'A' && y <= 'Z' ? y + 32 : y))
			return false;
	}
	return true;
}

/* The element's tag name as written (Gumbo keeps unknown ones only there). */
static const char *tag_name(const GumboNode *el, size_t *len)
{
	const GumboElement *e = &el->v.element;
	if (e->tag != GUMBO_TAG_UNKNOWN) {
		const char *n = gumbo_normalized_tagname(e->tag);
		*len = strlen(n);
		return n;
	}
	GumboStringPiece p = e->original_tag;
	if (!p.data) {
		*len = 0;
		return "";
	}
	gumbo_tag_from_original_text(&p);
	*len = p.length;
	return p.data;
}

static bool same_type(const GumboNode *a, const GumboNode *b)
{
	if (a->v.element.tag != b->v.element.tag)
		return false;
	if (a->v.element.tag != GUMBO_TAG_UNKNOWN)
		return true;
	size_t an, bn;
	const char *x = tag_name(a, &an), *y = tag_name(b, &bn);
	return name_eq(x, an, y, bn);
}

static bool tag_is(const GumboNode *el, GumboTag tag)
{
	return el->v.element.tag == tag;
}

static const char *attr(const GumboNode *el, const char *name)
{
	GumboAttribute *a = gumbo_get_attribute(&el->v.element.attributes, name);
	return a ? a->value : NULL;
}

/* Class and id selectors ignore ASCII case in quirks mode, which mail
 * without a doctype is in. */
static bool quirks(sel *S, const GumboNode *el)
{
	if (S->quirks < 0) {
		const GumboNode *n = el;
		while (n->parent)
			n = n->parent;
		S->quirks = n->type == GUMBO_NODE_DOCUMENT &&
			    n->v.document.doc_type_quirks_mode == GUMBO_DOCTYPE_QUIRKS;
	}
	return S->quirks;
}

static bool span_eq(const char *a, const char *b, size_t n, bool icase)
{
	return icase ? name_eq(a, n, b, n) : memcmp(a, b, n) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Is w one of the white-space separated words of v? */
static bool has_word(const char *v, const char *w, bool icase)
{
	size_t n = strlen(w);
	while (*v) {
		while (is_space(*v))
			v++;
		const char *e = v;
		while (*e && !is_space(*e))
			e++;
		if ((size_t)(e - v) == n && n && span_eq(v, w, n, icase))
			return true;
		v = e;
	}
	return false;
}

/* HTML attributes whose values selectors compare ignoring ASCII case. */
static bool legacy_icase(const char *name)
{
	static const char *const names[] = {
		"accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked",
		"clear", "codetype", "color", "compact", "declare", "defer", "dir", "direction",
		"disabled", "enctype", "face", "frame", "hreflang", "http-equiv", "lang", "language",
		"link", "media", "method", "multiple", "nohref", "noresize", "noshade", "nowrap",
		"readonly", "rel", "rev", "rules", "scope", "scrolling", "selected", "shape", "target",
		"text", "type", "valign", "valuetype", "vlink",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (bw_ascii_iequal(name, names[i]))
			return true;
	return false;
}

static bool attr_match(const simple *x, const GumboNode *el)
{
	const char *v = attr(el, x->name);
	if (!v)
		return false;
	if (x->op == A_EXISTS)
		return true;
	bool ic = x->icase == 1 || (x->icase < 0 && el->v.element.tag_namespace == GUMBO_NAMESPACE_HTML &&
				    legacy_icase(x->name));
	const char *w = x->value;
	size_t vn = strlen(v), wn = strlen(w);
	switch (x->op) {
	case A_EQ:
		return vn == wn && span_eq(v, w, wn, ic);
	case A_INCLUDES:
		return has_word(v, w, ic) && !strpbrk(w, " \t\n\r\f");
	case A_DASH:
		return vn >= wn && span_eq(v, w, wn, ic) && (vn == wn || v[wn] == '-');
	case A_PREFIX:
		return wn && vn >= wn && span_eq(v, w, wn, ic);
	case A_SUFFIX:
		return wn && vn >= wn && span_eq(v + vn - wn, w, wn, ic);
	default:
		return wn && (ic ? bw_ascii_strcasestr(v, w) != NULL : strstr(v, w) != NULL);
	}
}

/* Position of el among its element siblings (of its type), from 1. */
static long elem_index(sel *S, const GumboNode *el, bool last, bool of_type)
{
	const GumboVector *v = siblings(el);
	if (!v)
		return 1;
	size_t at = index_of(el, v);
	long idx = 1;
	if (last) {
		for (size_t i = at + 1; i < v->length; i++, S->steps++)
			idx += is_elem(v->data[i]) && (!of_type || same_type(v->data[i], el));
	} else {
		for (size_t i = at; i-- > 0; S->steps++)
			idx += is_elem(v->data[i]) && (!of_type || same_type(v->data[i], el));
	}
	return idx;
}

static bool nth_match(long a, long b, long i)
{
	if (a == 0)
		return i == b;
	return (i - b) % a == 0 && (i - b) / a >= 0;
}

static bool is_empty(const GumboNode *el)
{
	const GumboVector *v = &el->v.element.children;
	for (size_t i = 0; i < v->length; i++) {
		GumboNodeType t = ((const GumboNode *)v->data[i])->type;
		if (t != GUMBO_NODE_COMMENT)
			return false;
	}
	return true;
}

static bool checked(sel *S, const GumboNode *el)
{
	if (tag_is(el, GUMBO_TAG_OPTION)) { /* without "selected", a select picks one anyway */
		S->uncertain |= !attr(el, "selected");
		return true;
	}
	const char *type = attr(el, "type");
	return tag_is(el, GUMBO_TAG_INPUT) && attr(el, "checked") && type &&
	       (bw_ascii_iequal(type, "checkbox") || bw_ascii_iequal(type, "radio"));
}

/* ---- matching ---- */

enum { MATCH, FAIL_LOCAL, FAIL_SIBLINGS, FAIL_ALL };

static bool match_list(sel *S, int first, const GumboNode *el);

static bool match_simple(sel *S, const simple *x, const GumboNode *el)
{
	size_t n;
	const char *s;
	switch ((enum kind)x->kind) {
	case S_TYPE:
		s = tag_name(el, &n);
		return name_eq(s, n, x->name, strlen(x->name));
	case S_ID:
		s = attr(el, "id");
		return s && (!strcmp(s, x->name) || (bw_ascii_iequal(s, x->name) && quirks(S, el)));
	case S_CLASS:
		s = attr(el, "class");
		return s && (has_word(s, x->name, false) || (has_word(s, x->name, true) && quirks(S, el)));
	case S_ATTR:
		return attr_match(x, el);
	case S_NEVER:
		return false;
	case S_ASSUME:
		S->uncertain = true;
		return true;
	case S_LINK:
		return (tag_is(el, GUMBO_TAG_A) || tag_is(el, GUMBO_TAG_AREA) || tag_is(el, GUMBO_TAG_LINK)) &&
		       attr(el, "href");
	case S_ROOT:
		return el->parent && el->parent->type == GUMBO_NODE_DOCUMENT;
	case S_CHECKED:
		return checked(S, el);
	case S_EMPTY:
		return is_empty(el);
	case S_NTH:
		return nth_match(x->a, x->b, elem_index(S, el, x->last, x->of_type));
	case S_IS:
		return match_list(S, x->list, el);
	case S_NOT: { /* an uncertain match of the argument is no reason to fail */
		bool outer = S->uncertain;
		S->uncertain = false;
		bool m = match_list(S, x->list, el), unsure = S->uncertain;
		S->uncertain = outer || (m && unsure);
		return !m || unsure;
	}
	case S_NONE:
		break;
	}
	return true;
}

/* Right to left from compound c at el. The failure kinds let the ancestor
 * and sibling loops stop early (as in WebKit's SelectorChecker): when the
 * rest fails for every ancestor, trying higher ones is pointless. */
static int match_from(sel *S, int c, const GumboNode *el)
{
	if (++S->steps > MAX_STEPS) { /* hostile: give up, assuming a match */
		S->uncertain = true;
		return MATCH;
	}
	const compound *k = &S->cp[c];
	for (int i = k->first; i >= 0; i = S->sp[i].next)
		if (!match_simple(S, &S->sp[i], el))
			return FAIL_LOCAL;
	if (k->left < 0)
		return MATCH;
	const GumboNode *n;
	int r;
	switch (k->comb) {
	case '>':
		n = parent_elem(el);
		return n ? match_from(S, k->left, n) : FAIL_ALL;
	case '+':
		n = prev_elem(S, el);
		return n ? match_from(S, k->left, n) : FAIL_SIBLINGS;
	case '~':
		for (n = prev_elem(S, el); n; n = prev_elem(S, n))
			if ((r = match_from(S, k->left, n)) != FAIL_LOCAL)
				return r;
		return FAIL_SIBLINGS;
	default:
		for (n = parent_elem(el); n; n = parent_elem(n))
			if ((r = match_from(S, k->left, n)) == MATCH || r == FAIL_ALL)
				return r;
		return FAIL_ALL;
	}
}

static bool match_list(sel *S, int first, const GumboNode *el)
{
	for (int c = first; c >= 0; c = S->cx[c].next)
		if (match_from(S, S->cx[c].right, el) == MATCH)
			return true;
	return false;
}

bool bw_css_selector_matches(const char *selector, const GumboNode *el)
{
	if (!selector || !is_elem(el))
		return false;
	size_t len = strlen(selector);
	char small[1024];
	sel S;
	S.lx = (bw_css_lexer){ selector, len, 0 };
	S.arena = 4 * len + 16 <= sizeof small ? small : bw_xmalloc(4 * len + 16);
	S.steps = 0;
	S.quirks = -1;
	S.uncertain = false;
	bool matched = false, valid = true;
	next(&S);
	skip_ws(&S);
	for (;;) {
		S.nsp = S.ncp = S.ncx = 0;
		S.used = 0;
		S.full = false;
		int c = parse_complex(&S, 0);
		skip_ws(&S);
		if (c == ERR || (S.t.type != BW_CSS_COMMA && S.t.type != BW_CSS_EOF)) {
			valid = false;
			break;
		}
		if (!matched) /* when out of room, assume */
			matched = S.full || match_from(&S, S.cx[c].right, el) == MATCH;
		if (S.t.type == BW_CSS_EOF)
			break;
		next(&S);
		skip_ws(&S);
	}
	if (S.arena != small)
		free(S.arena);
	return valid && matched;
}
