# Reference values of the chance to beat for experiment tests: mpmath at 20 significant digits,
# tanh-sinh quadrature of the exact Beta densities (normalised with log-gamma), the narrower
# posterior as the outer variable; the inner CDF is mpmath.betainc, or a quadrature of the
# density for parameters beyond 10^5. Usage: python3 chance_to_beat.py "(s1,n1,s2,n2)" ...
import mpmath as mp, sys
mp.mp.dps = 20
def pdf(a,b):
    lb = mp.loggamma(a)+mp.loggamma(b)-mp.loggamma(a+b)
    return lambda x: mp.e**((a-1)*mp.log(x)+(b-1)*mp.log1p(-x)-lb) if 0<x<1 else mp.mpf(0)
def sd(a,b): return mp.sqrt(a*b/((a+b)**2*(a+b+1)))
def window(a,b,k):
    m=a/(a+b); s=sd(a,b)
    return max(mp.mpf(0), m-k*s), min(mp.mpf(1), m+k*s), m
def cdf(a,b,x):
    if a+b < 1e5: return mp.betainc(a,b,0,x,regularized=True)
    lo,hi,m=window(a,b,40)
    if x<=lo: return mp.mpf(0)
    if x>=hi: return mp.mpf(1)
    f=pdf(a,b)
    if x<=m: return mp.quad(f,[lo,m-(m-lo)/2,x] if x>m-(m-lo)/2 else [lo,x])
    return 1-mp.quad(f,[x,hi])
def above(a1,b1,a2,b2):  # P(X1 > X2), X1 the narrower: outer variable
    lo,hi,m=window(a1,b1,30)
    f=pdf(a1,b1)
    s=sd(a1,b1)
    pts=[lo]+[m+k*s for k in range(-8,9) if lo< m+k*s <hi]+[hi]
    return mp.quad(lambda x: f(x)*cdf(a2,b2,x), sorted(set(pts)))
def beat(s1,n1,s2,n2):
    a1,b1=mp.mpf(1+s1),mp.mpf(1+n1-s1); a2,b2=mp.mpf(1+s2),mp.mpf(1+n2-s2)
    if sd(a1,b1) <= sd(a2,b2): return above(a1,b1,a2,b2)
    return 1-above(a2,b2,a1,b1)
for c in [eval(a) for a in sys.argv[1:]]:
    print(c, mp.nstr(beat(*c),15)); sys.stdout.flush()
