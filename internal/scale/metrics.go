// Package scale measures Baton's controller at scale against an API server
// alone: the integration tests of this package (build tag integration) run
// the real controller binary against envtest's kube-apiserver and etcd and
// play kubelet and Job controller themselves (docs/performance.md, "Scale").
// This file holds what they read from the controller: its Prometheus
// metrics and its memory and CPU from /proc.
package scale

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseText reads the samples of a Prometheus text exposition, skipping
// comments. Only what the controller's /metrics serves is supported: no
// exemplars; a trailing timestamp is ignored.
func ParseText(text string) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", n, line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseLine(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	end := strings.IndexAny(line, "{ ")
	if end < 0 {
		return s, fmt.Errorf("no value")
	}
	s.Name, line = line[:end], line[end:]
	if strings.HasPrefix(line, "{") {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return s, err
		}
		line = rest
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}

// parseLabels reads `name="value",...}` (after the opening brace) into
// labels and returns what follows the closing brace.
func parseLabels(in string, labels map[string]string) (string, error) {
	for {
		in = strings.TrimLeft(in, " ,")
		if strings.HasPrefix(in, "}") {
			return in[1:], nil
		}
		eq := strings.Index(in, "=")
		if eq < 0 || len(in) < eq+2 || in[eq+1] != '"' {
			return "", fmt.Errorf("bad label in %q", in)
		}
		name := strings.TrimSpace(in[:eq])
		var value strings.Builder
		i := eq + 2
		for ; i < len(in) && in[i] != '"'; i++ {
			if in[i] == '\\' && i+1 < len(in) {
				i++
				switch in[i] {
				case 'n':
					value.WriteByte('\n')
				default:
					value.WriteByte(in[i])
				}
				continue
			}
			value.WriteByte(in[i])
		}
		if i == len(in) {
			return "", fmt.Errorf("unterminated label value in %q", in)
		}
		labels[name] = value.String()
		in = in[i+1:]
	}
}

func matches(s Sample, name string, match map[string]string) bool {
	if s.Name != name {
		return false
	}
	for k, v := range match {
		if s.Labels[k] != v {
			return false
		}
	}
	return true
}

// Sum adds up the samples named name whose labels include match (a
// counter summed over its other labels).
func Sum(samples []Sample, name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range samples {
		if matches(s, name, match) {
			total += s.Value
		}
	}
	return total
}

// Bucket is a histogram bucket: how many observations were ≤ UpperBound.
type Bucket struct{ UpperBound, Count float64 }

// Histogram is one histogram series, cumulative buckets in order.
type Histogram struct {
	Buckets    []Bucket
	Count, Sum float64
}

// HistogramOf collects histogram name's series whose labels include match;
// series differing in other labels are added together.
func HistogramOf(samples []Sample, name string, match map[string]string) Histogram {
	byBound := map[float64]float64{}
	var h Histogram
	for _, s := range samples {
		switch {
		case matches(s, name+"_bucket", match):
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err == nil {
				byBound[le] += s.Value
			}
		case matches(s, name+"_count", match):
			h.Count += s.Value
		case matches(s, name+"_sum", match):
			h.Sum += s.Value
		}
	}
	for le, n := range byBound {
		h.Buckets = append(h.Buckets, Bucket{le, n})
	}
	slices.SortFunc(h.Buckets, func(a, b Bucket) int { return cmp.Compare(a.UpperBound, b.UpperBound) })
	return h
}

// Quantile estimates the q-quantile (0 < q < 1) the way PromQL's
// histogram_quantile does: linear interpolation within the bucket that
// holds it, from 0 for the first bucket; a quantile falling in the +Inf
// bucket is reported as the highest finite bound. NaN when empty.
func (h Histogram) Quantile(q float64) float64 {
	if len(h.Buckets) == 0 {
		return math.NaN()
	}
	total := h.Buckets[len(h.Buckets)-1].Count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range h.Buckets {
		if b.Count >= rank {
			if math.IsInf(b.UpperBound, 1) {
				if i == 0 {
					return math.NaN()
				}
				return h.Buckets[i-1].UpperBound
			}
			inBucket := b.Count - below
			if inBucket == 0 {
				return b.UpperBound
			}
			return lower + (b.UpperBound-lower)*(rank-below)/inBucket
		}
		lower, below = b.UpperBound, b.Count
	}
	return lower
}

// Memory is a process's resident set now and at its peak, from
// /proc/<pid>/status (VmRSS, VmHWM), in bytes.
type Memory struct{ RSS, Peak uint64 }

// ReadMemory reads pid's Memory.
func ReadMemory(pid int) (Memory, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	var m Memory
	for _, line := range strings.Split(string(raw), "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(value) // "123456 kB"
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("%s: unexpected %q", key, value)
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return m, err
		}
		if key == "VmRSS" {
			m.RSS = kb * 1024
		} else {
			m.Peak = kb * 1024
		}
	}
	if m.RSS == 0 || m.Peak == 0 {
		return m, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	return m, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPUTime reads the user and system CPU time pid has used, from
// /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis. utime and stime are
	// fields 14 and 15, so the 12th and 13th after it.
	s := string(raw)
	paren := strings.LastIndexByte(s, ')')
	if paren < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[paren+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	var ticks uint64
	for _, field := range f[11:13] {
		n, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// ChildrenNamed returns the pids of the processes whose parent is ppid and
// whose command name (/proc/<pid>/comm) is name: how the harness finds the
// kube-apiserver and etcd envtest started, to account for their CPU.
func ChildrenNamed(ppid int, name string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // gone meanwhile
		}
		s := string(raw)
		open, paren := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || paren < open {
			continue
		}
		f := strings.Fields(s[paren+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(ppid) {
			continue
		}
		// comm is truncated to 15 bytes ("kube-apiserver" fits).
		if comm := s[open+1 : paren]; comm == name || (len(name) > 15 && comm == name[:15]) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// Percentile is the p-th percentile (0–100) of ds by the nearest-rank
// method; zero when ds is empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// MachineCPU reads the CPU time all processors have spent busy (anything
// but idle and iowait) and in total since boot, from /proc/stat: what the
// harness subtracts its own processes from to tell how much of the machine
// others used during a run.
func MachineCPU() (busy, total time.Duration, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	var idle, all uint64
	for i, field := range f[1:] {
		n, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, 0, err
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user and nice.
		if i >= 8 {
			break
		}
		all += n
		if i == 3 || i == 4 {
			idle += n
		}
	}
	tick := func(n uint64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
	return tick(all - idle), tick(all), nil
}
