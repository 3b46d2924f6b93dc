/* What identifies the recipient in a URL: every encoding of the address is
 * found under its own name (expected values computed outside Bulwark, with
 * Python's hashlib, zlib and base64), and the unique-token heuristic picks
 * tracking identifiers while leaving ordinary asset URLs alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulwark/trackers.h"

static void check_form(const bw_recipient_forms *f, const char *url, const char *want)
{
	const char *got = bw_recipient_forms_find(f, url);
	bool ok = want ? got && strcmp(got, want) == 0 : !got;
	if (!ok)
		fail_msg("%s: found %s, want %s", url, got ? got : "nothing", want ? want : "nothing");
}

static void test_every_form_of_a_lowercase_address(void **state)
{
	bw_recipient_forms *f = bw_recipient_forms_new("test@example.com");
	(void)state;

	check_form(f, "https://t.example/o?e=test@example.com", "raw");
	check_form(f, "https://t.example/o?e=TEST@Example.com", "lowercase");
	check_form(f, "https://t.example/o?e=test%40example.com&x=1", "urlencoded");
	check_form(f, "https://t.example/o?e=dGVzdEBleGFtcGxlLmNvbQ==", "base64");
	check_form(f, "https://t.example/o/dGVzdEBleGFtcGxlLmNvbQ/p.gif", "base64");
	check_form(f, "https://t.example/o?e=74657374406578616D706C652E636F6D", "hex");
	check_form(f, "https://t.example/o/55502F40DC8B7C769880B10874ABC9D0.gif", "md5");
	check_form(f, "https://t.example/o?h=567159d622ffbb50b11b0efd307be358624a26ee", "sha1");
	check_form(f, "https://t.example/o?h=973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b",
		   "sha256");
	check_form(f, "https://t.example/o?h=3af3174fa10ef8bd28ce7620c25fe18d1d5f93b9b3c4db3413402a0ec66369ea"
		      "b560c8cc0cefed323a2213ddec7c8a2c9ab912761215ada3e3c8c447cb318e07", "sha512");
	check_form(f, "https://t.example/o?c=9708878a&x=1", "crc32");
	check_form(f, "https://t.example/o?c=9708878A", "crc32");

	/* The longest form present names the match. */
	check_form(f, "https://t.example/o?m=55502f40dc8b7c769880b10874abc9d0"
		      "&s=973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b", "sha256");
	/* Eight hex digits inside a longer hex run are chance, not a CRC. */
	check_form(f, "https://t.example/o?c=09708878a", NULL);
	check_form(f, "https://t.example/o?c=9708878ab", NULL);
	/* Unrelated addresses and URLs. */
	check_form(f, "https://www.example.com/about?id=12345", NULL);
	check_form(f, "https://t.example/o?e=best@example.com", NULL);
	check_form(f, "https://t.example/o/55502f40dc8b7c769880b10874abc9d1.gif", NULL);
	check_form(f, "", NULL);
	bw_recipient_forms_free(f);
}

static void test_base64_variants(void **state)
{
	/* Chosen so that base64 holds '+' and padding. */
	bw_recipient_forms *f = bw_recipient_forms_new("xy~~@example.com");
	(void)state;

	check_form(f, "https://t.example/o?e=eHl+fkBleGFtcGxlLmNvbQ==", "base64");
	check_form(f, "https://t.example/o?e=eHl+fkBleGFtcGxlLmNvbQ&z=1", "base64");
	check_form(f, "https://t.example/o?e=eHl-fkBleGFtcGxlLmNvbQ==", "base64url");
	check_form(f, "https://t.example/o/eHl-fkBleGFtcGxlLmNvbQ/1", "base64url");
	/* base64 is case-sensitive. */
	check_form(f, "https://t.example/o?e=EHL-FKBLEGFTCGXLLMNVBQ", NULL);
	check_form(f, "https://t.example/o?e=xy~~%40example.com", "urlencoded");
	bw_recipient_forms_free(f);
}

static void test_mixed_case_address(void **state)
{
	bw_recipient_forms *f = bw_recipient_forms_new("Alice.B+news@Example.COM");
	(void)state;

	check_form(f, "https://t.example/o?e=Alice.B+news@Example.COM", "raw");
	check_form(f, "https://t.example/o?e=alice.b+news@example.com", "lowercase");
	check_form(f, "https://t.example/o?e=Alice.B%2Bnews%40Example.COM", "urlencoded");
	check_form(f, "https://t.example/o?e=alice.b%2bnews%40example.com", "urlencoded");
	/* Digests of the normalised address and of the address as given. */
	check_form(f, "https://t.example/o?m=10a8838028c59b7a1d2e34e02ad58c28", "md5");
	check_form(f, "https://t.example/o?m=ef3c9c367dc73161bfac941e5aad04a9", "md5");
	check_form(f, "https://t.example/o?c=cb104146", "crc32");
	check_form(f, "https://t.example/o?c=78bbca51", "crc32");
	check_form(f, "https://t.example/o?e=QWxpY2UuQituZXdzQEV4YW1wbGUuQ09N", "base64");
	check_form(f, "https://t.example/o?e=YWxpY2UuYituZXdzQGV4YW1wbGUuY29t", "base64");
	bw_recipient_forms_free(f);
}

static void test_no_address(void **state)
{
	(void)state;
	assert_null(bw_recipient_forms_new(NULL));
	assert_null(bw_recipient_forms_new(""));
	assert_null(bw_recipient_forms_find(NULL, "x"));
	bw_recipient_forms_free(NULL);
}

/* ---- unique tokens ------------------------------------------------------ */

static void check_token(const char *url, const char *want)
{
	char *got = bw_find_unique_token(url);
	bool ok = want ? got && strcmp(got, want) == 0 : !got;
	if (!ok)
		fail_msg("%s: token %s, want %s", url, got ? got : "none", want ? want : "none");
	free(got);
}

static void test_tokens_in_tracking_urls(void **state)
{
	(void)state;
	check_token("https://u1234567.ct.sendgrid.net/wf/open?upn=u001.LfBxYZ3aQ8Kc0P-2BnRmWq7tH9vJdE4sGhU-3D",
		    "u001.LfBxYZ3aQ8Kc0P-2BnRmWq7tH9vJdE4sGhU-3D");
	check_token("https://acme.us5.list-manage.com/track/open.php?u=8e9e7c9f3a6b1d2e4f5a6b7c8"
		    "&id=3b1f0a9c2d&e=5f2a8c1d0e", "8e9e7c9f3a6b1d2e4f5a6b7c8");
	check_token("http://go.sparkpostmail.com/q/5BTA9GluwlLWgrx0tF2efQ~~/AABO7gA~/"
		    "RgRkvUagPlcDc3BjQgpi1aTB2mLvBOAPUhdhYXJvbkBvbmVmYXRnaXJhZmZlLmNvbVgEAAAABg~~",
		    "RgRkvUagPlcDc3BjQgpi1aTB2mLvBOAPUhdhYXJvbkBvbmVmYXRnaXJhZmZlLmNvbVgEAAAABg~~");
	check_token("https://mx.technolutions.net/ss/o/3Jk9xQ2mWv8bLp4zR7tN/ho.gif",
		    "3Jk9xQ2mWv8bLp4zR7tN");
	/* A pixel named by its token: the token, without the extension. */
	check_token("https://t.example.net/o/9f86d081884c7d659a2feaa0c55ad015.gif",
		    "9f86d081884c7d659a2feaa0c55ad015");
}

static void test_no_token_in_ordinary_urls(void **state)
{
	(void)state;
	check_token("https://example.com/images/newsletter-header-2024.png", NULL);
	check_token("https://cdn.example.com/assets/logo.png?v=3", NULL);
	check_token("https://cdn.example.com/assets/logo_header_2023.png", NULL);
	check_token("https://www.example.com/2024/01/15/a-rather-long-article-title-here", NULL);
	check_token("https://www.example.com/archive/20240115120000123456", NULL);
	check_token("https://www.example.com/NewsletterSpring2024Header/index.html", NULL);
	/* The host is never the token. */
	check_token("https://d1b3tz62q8x6bi.cloudfront.net/emails/logo.png", NULL);
	check_token("https://dqmaer86.emltrk.com/v2/dqmaer86?f&d=Vyau4ZI", NULL);
	check_token("", NULL);
	check_token(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_form_of_a_lowercase_address),
		cmocka_unit_test(test_base64_variants),
		cmocka_unit_test(test_mixed_case_address),
		cmocka_unit_test(test_no_address),
		cmocka_unit_test(test_tokens_in_tracking_urls),
		cmocka_unit_test(test_no_token_in_ordinary_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
