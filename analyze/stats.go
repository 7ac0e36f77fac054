package analyze

import (
	"math"
	"slices"
)

// percentile is the nearest-rank q-quantile (0 < q <= 1) of sorted values; 0 for none.
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[rankIndex(len(sorted), q)]
}

func rankIndex(n int, q float64) int {
	k := int(math.Ceil(q*float64(n))) - 1
	return min(max(k, 0), n-1)
}

func mean(vs []int64) int64 {
	if len(vs) == 0 {
		return 0
	}
	var sum float64
	for _, v := range vs {
		sum += float64(v)
	}
	return int64(sum / float64(len(vs)))
}

// MannWhitney tests whether two samples come from one distribution, against the alternative that one tends to
// be larger. a and b must be sorted. It returns the U statistic of a and the two-sided p-value from the normal
// approximation with tie correction and continuity correction; p is 1 when either sample is empty.
func MannWhitney(a, b []int64) (u float64, p float64) { return mannWhitney(a, b, 0, 0) }

// mannWhitney is MannWhitney with za and zb more values in a and b below every value given: the zeros of counts
// per trace, which would otherwise fill arrays as long as the populations.
func mannWhitney(a, b []int64, za, zb int) (u float64, p float64) {
	n1, n2 := len(a)+za, len(b)+zb
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	// Merge the sorted samples, giving tied values their average rank.
	var r1, tieSum float64
	i, j, rank := 0, 0, 0
	if t := za + zb; t > 0 {
		r1 = float64(t+1) / 2 * float64(za)
		rank = t
		if t > 1 {
			tf := float64(t)
			tieSum = tf*tf*tf - tf
		}
	}
	n1, n2 = len(a), len(b)
	for i < n1 || j < n2 {
		var v int64
		if j >= n2 || (i < n1 && a[i] <= b[j]) {
			v = a[i]
		} else {
			v = b[j]
		}
		ca, cb := 0, 0
		for i < n1 && a[i] == v {
			i++
			ca++
		}
		for j < n2 && b[j] == v {
			j++
			cb++
		}
		t := ca + cb
		avg := float64(rank) + float64(t+1)/2
		r1 += avg * float64(ca)
		rank += t
		if t > 1 {
			tf := float64(t)
			tieSum += tf*tf*tf - tf
		}
	}
	f1, f2 := float64(n1+za), float64(n2+zb)
	n := f1 + f2
	u = r1 - f1*(f1+1)/2
	mu := f1 * f2 / 2
	variance := f1 * f2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if variance <= 0 {
		return u, 1
	}
	z := math.Max(math.Abs(u-mu)-0.5, 0) / math.Sqrt(variance)
	return u, math.Erfc(z / math.Sqrt2)
}

// sample is one duration and the trace it came from (by index into the traces aggregated).
type sample struct {
	d     int64
	trace int32
}

// distribution summarises samples.
type distribution struct {
	count              int
	durations          []int64 // when asked for, in no particular order
	p50, p90, p99, avg int64
	exemplars          []int32 // traces at p50, p90, p99 and the maximum, without repeats
}

// summarise finds the percentiles and exemplars of samples (reordering them); keep asks for the durations too.
func summarise(ss []sample, keep bool) distribution {
	n := len(ss)
	d := distribution{count: n}
	if n == 0 {
		return d
	}
	key := func(s sample) int64 { return s.d }
	ks := [4]int{rankIndex(n, .5), rankIndex(n, .9), rankIndex(n, .99), n - 1}
	prev := 0
	for _, k := range ks {
		selectNth(ss[prev:], k-prev, key)
		prev = k
	}
	var sum float64
	for _, s := range ss {
		sum += float64(s.d)
	}
	if keep {
		d.durations = make([]int64, n)
		for i, s := range ss {
			d.durations[i] = s.d
		}
	}
	d.p50, d.p90, d.p99, d.avg = ss[ks[0]].d, ss[ks[1]].d, ss[ks[2]].d, int64(sum/float64(n))
	for _, k := range ks {
		if t := ss[k].trace; !slices.Contains(d.exemplars, t) {
			d.exemplars = append(d.exemplars, t)
		}
	}
	return d
}

// quantiles returns the nearest-rank p50, p90 and p99 of ds. It reorders ds (a partial sort by selection, which is
// linear where sorting is not).
func quantiles(ds []int64) (p50, p90, p99 int64) {
	n := len(ds)
	if n == 0 {
		return 0, 0, 0
	}
	id := func(v int64) int64 { return v }
	k50, k90, k99 := rankIndex(n, .5), rankIndex(n, .9), rankIndex(n, .99)
	selectNth(ds, k50, id)
	selectNth(ds[k50:], k90-k50, id)
	selectNth(ds[k90:], k99-k90, id)
	return ds[k50], ds[k90], ds[k99]
}

// selectNth reorders a so that a[k] is the element a sorted a (by key) would have there, with nothing larger
// before it and nothing smaller after it (Hoare's selection).
func selectNth[T any](a []T, k int, key func(T) int64) {
	lo, hi := 0, len(a)-1
	for hi-lo > 16 {
		mid := lo + (hi-lo)/2
		if key(a[mid]) < key(a[lo]) {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if key(a[hi]) < key(a[lo]) {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if key(a[hi]) < key(a[mid]) {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := key(a[mid])
		i, j := lo, hi
		for i <= j {
			for key(a[i]) < pivot {
				i++
			}
			for key(a[j]) > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return // a[j+1:i] all equal the pivot
		}
	}
	if hi > lo {
		slices.SortFunc(a[lo:hi+1], func(x, y T) int { return cmpInt64(key(x), key(y)) })
	}
}
