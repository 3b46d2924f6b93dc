/* Shared by gen_iocs and bench_ioc: the network mask both apply to IP
 * values, so that generated records and SQLite probes agree on the text. */
#ifndef BENCH_IOC_COMMON_H
#define BENCH_IOC_COMMON_H

/* Clears the bits of addr (n bytes) past the first prefix bits. */
static inline void mask_bytes(unsigned char *addr, unsigned n, unsigned prefix)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned keep = prefix >= 8 * (i + 1) ? 8 : prefix > 8 * i ? prefix - 8 * i : 0;
		addr[i] = keep ? (unsigned char)(addr[i] & (0xffu << (8 - keep))) : 0;
	}
}

#endif
