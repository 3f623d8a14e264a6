"""Plain-Python CCSDS TM channel coding, straight from CCSDS 131.0-B-4: the tests' oracle for
src/rs.c and src/randomizer.c, and the benchmarks' baseline. Not for flight or ground use.

Everything is written the way the standard states it, so that a disagreement with the C points
at the C:

- the pseudo-randomizer (§10) is the bit-serial sequence of h(x) = x^8 + x^7 + x^5 + x^3 + 1
  from the all-ones state;
- the Reed-Solomon code (§4) lives in GF(2^8) built on F(x) = x^8 + x^7 + x^2 + x + 1 with alpha
  a root of F; its generator is g(x) = prod_{j=112}^{143} (x - alpha^(11 j)), i.e. 2E = 32
  consecutive powers of beta = alpha^11 starting at beta^112 (the roots sit symmetrically around
  beta^127.5, which makes g(x) its own reciprocal);
- symbols travel in Berlekamp's dual basis: the octet on the wire is [z0..z7] = [a7..a0] x T
  (first bit z0, MSB first), with T the standard's matrix (§4 and its annex on the
  transformation between the Berlekamp and conventional representations);
- interleaving at depth I puts octet m of codeword j at I * m + j, and virtual fill shortens
  every codeword by the same number of leading (untransmitted, zero) information symbols.

The decoder is deliberately not the C's algorithm: syndromes by Horner, the key equation by
Sugiyama's Euclidean algorithm (the C uses Berlekamp-Massey), error positions by evaluating the
locator at every position, values by Forney. Both are bounded-distance decoders that accept a
result only if it is a codeword within E = 16 symbols of what was received, so they must agree
on every input, including the ones they give up on.
"""
from __future__ import annotations

N = 255  # codeword octets
K = 223  # information octets
E = 16  # symbol errors corrected per codeword
PARITY = 2 * E  # check symbols per codeword
FCR = 128 - E  # first consecutive root: g's roots are beta^112 .. beta^143
FIELD_POLY = 0x187  # F(x) = x^8 + x^7 + x^2 + x + 1
BETA_POWER = 11  # beta = alpha^11, the generator's primitive element

# T of the dual-basis transformation: row i is the image of alpha^(7 - i), column j (bit 7 - j
# of each row, MSB first) builds z_j. Read off the standard's 8 x 8 matrix.
T_ROWS = (0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B)
# T^-1 as the standard prints it: the Berlekamp octet [z0..z7] times T^-1 gives [a7..a0].
T_INV_ROWS = (0xC5, 0x42, 0x2E, 0xFD, 0xF0, 0x79, 0xAC, 0xCC)


def _times_matrix(octet: int, rows: tuple[int, ...]) -> int:
    """The row vector of octet's bits (MSB first) times the 8 x 8 GF(2) matrix given by rows."""
    out = 0
    for i, row in enumerate(rows):
        if octet & (0x80 >> i):
            out ^= row
    return out


def to_dual(conventional: int) -> int:
    """Conventional (alpha^7 .. alpha^0) octet -> Berlekamp dual-basis octet (z0 .. z7)."""
    return _times_matrix(conventional, T_ROWS)


def from_dual(dual: int) -> int:
    """Berlekamp dual-basis octet -> conventional octet."""
    return _times_matrix(dual, T_INV_ROWS)


# ---- the pseudo-randomizer (§10) ------------------------------------------------------------

def pn_bits(count: int) -> list[int]:
    """The first `count` bits of the sequence: s[n+8] = s[n+7] ^ s[n+5] ^ s[n+3] ^ s[n] (that is
    h(x) = x^8 + x^7 + x^5 + x^3 + 1), s[0..7] = 1."""
    s = [1] * 8
    while len(s) < count:
        n = len(s) - 8
        s.append(s[n + 7] ^ s[n + 5] ^ s[n + 3] ^ s[n])
    return s[:count]


def pn_sequence(octets: int) -> bytes:
    """The sequence as octets, first bit in the MSB: FF 48 0E C0 9A ... (period 255 octets)."""
    bits = pn_bits(8 * octets)
    return bytes(int("".join(map(str, bits[8 * i:8 * i + 8])), 2) for i in range(octets))


def randomize(data: bytes) -> bytes:
    """data XOR the sequence from its start (after the ASM); its own inverse."""
    return bytes(a ^ b for a, b in zip(data, pn_sequence(len(data))))


# ---- GF(2^8) on F(x) -------------------------------------------------------------------------

def _build_field() -> tuple[list[int], list[int]]:
    exp = [0] * 510  # alpha^i for i in 0..509, so a sum of two logs needs no reduction
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = exp[i + 255] = x
        log[x] = i
        x <<= 1  # times alpha
        if x & 0x100:
            x ^= FIELD_POLY
    return exp, log


EXP, LOG = _build_field()


def mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else EXP[LOG[a] + LOG[b]]


def div(a: int, b: int) -> int:
    if b == 0:
        raise ZeroDivisionError("GF(2^8) division by zero")
    return 0 if a == 0 else EXP[LOG[a] - LOG[b] + 255]


def beta_pow(e: int) -> int:
    """beta^e = alpha^(11 e)."""
    return EXP[(BETA_POWER * e) % 255]


# Polynomials are lists of coefficients, index = degree.

def poly_mul(p: list[int], q: list[int]) -> list[int]:
    out = [0] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] ^= mul(a, b)
    return out


def poly_eval(p: list[int], x: int) -> int:
    acc = 0
    for c in reversed(p):
        acc = mul(acc, x) ^ c
    return acc


def _trim(p: list[int]) -> list[int]:
    while len(p) > 1 and p[-1] == 0:
        p = p[:-1]
    return p


def _generator() -> list[int]:
    g = [1]
    for j in range(FCR, FCR + PARITY):
        g = poly_mul(g, [beta_pow(j), 1])  # (x - beta^j) = (x + beta^j)
    return g


GENERATOR = _generator()  # g_0 .. g_32, g_32 = 1


# ---- one codeword (conventional basis) -------------------------------------------------------

def parity_conventional(info: list[int]) -> list[int]:
    """The 32 check symbols (first transmitted first) of info (first transmitted first): the
    remainder of info(x) x^32 divided by g(x), by long division."""
    rem = list(info) + [0] * PARITY  # highest degree first
    for i in range(len(info)):
        coef = rem[i]
        if coef:
            for k in range(PARITY + 1):  # subtract coef * x^(...) * g(x)
                rem[i + k] ^= mul(coef, GENERATOR[PARITY - k])
    return rem[len(info):]


def syndromes_conventional(word: list[int]) -> list[int]:
    """S_k = r(beta^(112 + k)), k = 0..31, with word[0] the coefficient of the highest degree."""
    r = list(reversed(word))
    return [poly_eval(r, beta_pow(FCR + k)) for k in range(PARITY)]


def _poly_divmod(a: list[int], b: list[int]) -> tuple[list[int], list[int]]:
    a, b = _trim(a), _trim(b)
    q = [0] * max(1, len(a) - len(b) + 1)
    r = list(a)
    lead_inv = div(1, b[-1])
    for shift in range(len(a) - len(b), -1, -1):
        c = mul(r[shift + len(b) - 1], lead_inv)
        q[shift] = c
        if c:
            for i, bc in enumerate(b):
                r[shift + i] ^= mul(c, bc)
    return q, _trim(r[:len(b) - 1] or [0])


def _poly_add(p: list[int], q: list[int]) -> list[int]:
    out = [0] * max(len(p), len(q))
    for i, c in enumerate(p):
        out[i] ^= c
    for i, c in enumerate(q):
        out[i] ^= c
    return _trim(out)


def _key_equation(synd: list[int]) -> tuple[list[int], list[int]]:
    """Sugiyama: run Euclid on x^2E and S(x) until the remainder's degree drops below E; the
    running cofactor is then the error locator Lambda, the remainder the evaluator Omega."""
    r_prev, r = [0] * PARITY + [1], _trim(list(synd))
    t_prev, t = [0], [1]
    while len(r) - 1 >= E and any(r):
        q, rem = _poly_divmod(r_prev, r)
        r_prev, r = r, rem
        t_prev, t = t, _poly_add(t_prev, poly_mul(q, t))
    scale = div(1, t[0]) if t[0] else 0
    return [mul(c, scale) for c in t], [mul(c, scale) for c in r]


def decode_conventional(word: list[int]) -> tuple[list[int], int]:
    """(corrected word, symbols corrected) or (word unchanged, -1) for a shortened or full
    codeword of n = len(word) symbols."""
    n = len(word)
    synd = syndromes_conventional(word)
    if not any(synd):
        return list(word), 0
    locator, evaluator = _key_equation(synd)
    locator = _trim(locator)
    nu = len(locator) - 1
    if locator[0] != 1 or nu < 1 or nu > E:
        return list(word), -1
    # Lambda' in characteristic 2: only the odd-degree terms survive, each one degree lower.
    derivative = [locator[i + 1] if i % 2 == 0 else 0 for i in range(nu)]
    fixed = list(word)
    found = 0
    for degree in range(n):  # symbol at index n - 1 - degree carries x^degree: X = beta^degree
        x_inv = beta_pow(-degree)
        if poly_eval(locator, x_inv):
            continue
        found += 1
        den = poly_eval(derivative, x_inv)
        if den == 0:
            return list(word), -1
        # Forney with first root beta^112: e = X^(1 - 112) Omega(X^-1) / Lambda'(X^-1)
        value = mul(beta_pow(degree * (1 - FCR)), div(poly_eval(evaluator, x_inv), den))
        if value == 0:
            return list(word), -1
        fixed[n - 1 - degree] ^= value
    if found != nu or any(syndromes_conventional(fixed)):
        return list(word), -1
    return fixed, nu


# ---- codeblocks on the wire (dual basis, interleaved, virtual fill) --------------------------

def _check_depth(depth: int) -> None:
    if not 1 <= depth <= 5:
        raise ValueError(f"interleaving depth must be 1..5, got {depth}")


def encode(info: bytes, depth: int = 1) -> bytes:
    """The codeblock (info followed by its 32 * depth check symbols) of `info`, whose length
    is depth * k with k in 1..223 (k < 223: 223 - k octets of virtual fill per codeword)."""
    _check_depth(depth)
    k, rest = divmod(len(info), depth)
    if rest or not 1 <= k <= K:
        raise ValueError(f"information length must be depth * (1..223), got {len(info)} at depth {depth}")
    check = bytearray(PARITY * depth)
    for j in range(depth):
        symbols = [from_dual(info[depth * m + j]) for m in range(k)]
        for m, p in enumerate(parity_conventional(symbols)):
            check[depth * m + j] = to_dual(p)
    return bytes(info) + bytes(check)


def decode(block: bytes, depth: int = 1) -> tuple[bytes, list[int]]:
    """(corrected codeblock, per codeword: symbols corrected or -1). An uncorrectable
    codeword's octets come back as received."""
    _check_depth(depth)
    n, rest = divmod(len(block), depth)
    if rest or not PARITY + 1 <= n <= N:
        raise ValueError(f"codeblock length must be depth * (33..255), got {len(block)} at depth {depth}")
    out = bytearray(block)
    counts = []
    for j in range(depth):
        word = [from_dual(block[depth * m + j]) for m in range(n)]
        fixed, count = decode_conventional(word)
        counts.append(count)
        for m, s in enumerate(fixed):
            out[depth * m + j] = to_dual(s)
    return bytes(out), counts
