/* The TM pseudo-randomizer of CCSDS 131.0-B-4 §10.
 *
 * The sequence comes from h(x) = x^8 + x^7 + x^5 + x^3 + 1 started from the all-ones state and
 * restarts at every ASM; its period is 255 bits, so as octets it repeats every 255 octets
 * (FF 48 0E C0 9A ...). XOR is its own inverse: one call randomizes and derandomizes. */
#include "gridfree.h"

#define PN_PERIOD 255

static uint8_t PN[PN_PERIOD];

__attribute__((constructor)) static void build_pn_table(void)
{
    /* Fibonacci register: bit b of reg holds s[n + b]; s[n+8] = s[n+7] ^ s[n+5] ^ s[n+3] ^ s[n]. */
    unsigned reg = 0xFF;
    for (int i = 0; i < PN_PERIOD; i++) {
        uint8_t octet = 0;
        for (int b = 0; b < 8; b++) {
            octet = (uint8_t)((octet << 1) | (reg & 1)); /* first bit in the MSB */
            unsigned next = ((reg >> 7) ^ (reg >> 5) ^ (reg >> 3) ^ reg) & 1;
            reg = (reg >> 1) | (next << 7);
        }
        PN[i] = octet;
    }
}

void gf_tm_randomize(uint8_t *buf, size_t len)
{
    for (size_t at = 0; at < len; at += PN_PERIOD) {
        size_t chunk = len - at < PN_PERIOD ? len - at : PN_PERIOD;
        for (size_t i = 0; i < chunk; i++) /* vectorizes: no modulo in the inner loop */
            buf[at + i] ^= PN[i];
    }
}
