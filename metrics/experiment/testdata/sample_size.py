# Reference sample sizes for experiment tests: statsmodels' NormalIndPower formula (equal arms,
# two-sided, effect size h = 2·asin(√p2) - 2·asin(√p1) as proportion_effectsize computes it),
# solved for n with mpmath at 30 digits: Φ(h·√(n/2) - z) + Φ(-h·√(n/2) - z) = power.
import mpmath as mp
mp.mp.dps = 30
def n(p1, mde, alpha, power):
    p2 = p1 * (1 + mde)
    h = abs(2 * mp.asin(mp.sqrt(p2)) - 2 * mp.asin(mp.sqrt(p1)))
    z = mp.sqrt(2) * mp.erfinv(1 - alpha)
    f = lambda n: mp.ncdf(h * mp.sqrt(n / 2) - z) + mp.ncdf(-h * mp.sqrt(n / 2) - z) - power
    return mp.findroot(f, 2 * ((z + mp.sqrt(2) * mp.erfinv(2 * power - 1)) / h) ** 2)
for c in [(0.10, 0.2, 0.05, 0.8), (0.02, 0.1, 0.05, 0.8), (0.05, -0.1, 0.05, 0.9), (0.3, 0.05, 0.01, 0.8)]:
    print(c, mp.nstr(n(*c), 12))
