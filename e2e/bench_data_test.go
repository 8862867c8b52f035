//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	batonv1 "github.com/batonhq/baton/api/v1alpha1"
	"github.com/batonhq/baton/dispatcher"
	"github.com/batonhq/baton/internal/testenv"
)

const (
	// benchDataBytes is the volume's content: one file of incompressible
	// random data, so restic's deduplication and compression gain nothing.
	benchDataBytes = 1 << 30
	benchDataMiB   = float64(benchDataBytes) / (1 << 20)
	// benchDataTimeout bounds one data phase, or one helper Job, of 1 GiB on
	// a slow machine.
	benchDataTimeout = 15 * time.Minute
	// resticEnv names the restic binary the baseline runs on this machine
	// (the one `make restic` builds, also copied into the runner image).
	resticEnv = "BATON_RESTIC"
)

// BenchmarkVolumeBackupRestore measures Baton's data path on the live
// cluster (make bench-data): a PVC holding 1 GiB of random data, which no
// pod mounts, is backed up with CopyVolumeData, restored with RestoreData
// into a second, empty PVC, and compared (md5sum of both). Beside it, the
// same size is backed up and restored by plain restic on this machine
// against the same MinIO: the floor the data path could reach.
//
// A Baton phase's time runs from the ActionSet's creation to its phase Job
// seen Complete by a client-side watch (millisecond precision; Jobs'
// startTime/completionTime have only 1 s resolution and are logged as a
// cross-check). It includes the phase pod's and the data pod's start and
// removal. Peak memory comes from the runner's "baton-runner resources"
// line (getrusage of itself and of its children, i.e. restic). The
// baseline's comes from wait4's rusage of the restic process, the same
// source /usr/bin/time -v reads.
func BenchmarkVolumeBackupRestore(b *testing.B) {
	b.StopTimer()
	resticBin := os.Getenv(resticEnv)
	if resticBin == "" {
		b.Fatalf("%s is not set: run this benchmark with make bench-data, which builds restic", resticEnv)
	}
	e := connectEngine(b)
	ctx := context.Background()
	hostFile, hostSum := randomFile(b, b.TempDir())

	// Times add up over the iterations; peaks are the largest seen.
	var sum struct {
		backup, restore, baselineBackup, baselineRestore   time.Duration
		backupRunnerPeak, backupResticPeak                 float64
		restoreRunnerPeak, restoreResticPeak, baselinePeak float64
	}
	for i := 0; i < b.N; i++ {
		ns := e.namespace(b)
		s3 := e.s3ForPods(b)
		profile := uniqueName("bench-store")
		e.profileFor(b, s3, profile, "", "")
		key := e.encryptionKeySecret(b, rand.String(32))

		src, dst := "bench-src", "bench-dst"
		benchPVC(b, e, ns, src)
		benchPVC(b, e, ns, dst)
		// Fills the source and binds the (empty) target too, so neither
		// phase measures volume provisioning.
		fill := e.benchJob(b, ns, "fill", map[string]string{src: "/src", dst: "/dst"},
			fmt.Sprintf("set -e; head -c %d /dev/urandom > /src/blob; sync; wc -c < /src/blob; ls -A /dst | wc -l", benchDataBytes))
		if f := strings.Fields(fill); len(f) != 2 || f[0] != strconv.Itoa(benchDataBytes) || f[1] != "0" {
			b.Fatalf("fill job: want %d bytes in the source and an empty target, got %q", benchDataBytes, fill)
		}

		prefix := s3.Bucket + "/baton-" + rand.String(6)
		b.StartTimer()
		backup := e.runDataPhase(b, ctx, ns, profile, key, "CopyVolumeData", batonv1.JSONMap{
			"namespace": ns, "volume": src, "dataArtifactPrefix": prefix,
			"encryptionKey": "{{ .Secrets.backupKey.Data.key | toString }}",
		})
		b.StopTimer()
		id, root, loc := backup.outputs["backupID"], backup.outputs["backupRoot"], backup.outputs["backupArtifactLocation"]
		if id == nil || root == nil || loc == nil {
			b.Fatalf("CopyVolumeData outputs lack backupID, backupRoot or backupArtifactLocation: %v", backup.outputs)
		}
		b.Logf("CopyVolumeData outputs: %v", backup.outputs)

		// The snapshot holds the files under backupRoot (the source's mount
		// path); mounting the target there and extracting at / puts them
		// at the target's root.
		b.StartTimer()
		restore := e.runDataPhase(b, ctx, ns, profile, key, "RestoreData", batonv1.JSONMap{
			"namespace": ns, "backupArtifactPrefix": loc, "backupIdentifier": id,
			"volumes": map[string]any{dst: root}, "restorePath": "/",
			"encryptionKey": "{{ .Secrets.backupKey.Data.key | toString }}",
		})
		b.StopTimer()

		check := e.benchJob(b, ns, "verify", map[string]string{src: "/src", dst: "/dst"},
			"set -e; ls -A /dst; cd /src && md5sum blob; cd /dst && md5sum blob")
		if lines := strings.Split(strings.TrimSpace(check), "\n"); len(lines) != 3 || lines[0] != "blob" || lines[1] != lines[2] {
			b.Fatalf("the restored volume differs from the original (want only blob, same md5):\n%s", check)
		}

		base := resticBaseline(b, resticBin, s3, hostFile, hostSum)
		b.Logf("run %d: baton backup %s (%s), restore %s (%s); restic backup %s, restore %s", i+1,
			backup.wall.Round(time.Millisecond), backup.breakdown(), restore.wall.Round(time.Millisecond), restore.breakdown(),
			base.backup.wall.Round(time.Millisecond), base.restore.wall.Round(time.Millisecond))
		b.Logf("run %d: baton backup  %s", i+1, backup.usage)
		b.Logf("run %d: baton restore %s", i+1, restore.usage)

		sum.backup += backup.wall
		sum.restore += restore.wall
		sum.baselineBackup += base.backup.wall
		sum.baselineRestore += base.restore.wall
		sum.backupRunnerPeak = max(sum.backupRunnerPeak, backup.runnerPeak)
		sum.backupResticPeak = max(sum.backupResticPeak, backup.childrenPeak)
		sum.restoreRunnerPeak = max(sum.restoreRunnerPeak, restore.runnerPeak)
		sum.restoreResticPeak = max(sum.restoreResticPeak, restore.childrenPeak)
		sum.baselinePeak = max(sum.baselinePeak, base.backup.peakMiB, base.restore.peakMiB)
	}
	n := float64(b.N)
	rate := func(total time.Duration) float64 { return benchDataMiB * n / total.Seconds() }
	b.ReportMetric(rate(sum.backup), "backup_MiB/s")
	b.ReportMetric(rate(sum.restore), "restore_MiB/s")
	b.ReportMetric(sum.backup.Seconds()/n, "backup_s")
	b.ReportMetric(sum.restore.Seconds()/n, "restore_s")
	b.ReportMetric(sum.backupRunnerPeak, "backup_runner_peak_MiB")
	b.ReportMetric(sum.backupResticPeak, "backup_restic_peak_MiB")
	b.ReportMetric(sum.restoreRunnerPeak, "restore_runner_peak_MiB")
	b.ReportMetric(sum.restoreResticPeak, "restore_restic_peak_MiB")
	b.ReportMetric(rate(sum.baselineBackup), "baseline_backup_MiB/s")
	b.ReportMetric(rate(sum.baselineRestore), "baseline_restore_MiB/s")
	b.ReportMetric(sum.baselineBackup.Seconds()/n, "baseline_backup_s")
	b.ReportMetric(sum.baselineRestore.Seconds()/n, "baseline_restore_s")
	b.ReportMetric(sum.baselinePeak, "baseline_restic_peak_MiB")
}

// phaseRun is one data phase run through an ActionSet of its own.
type phaseRun struct {
	// wall: ActionSet created -> its phase Job seen Complete.
	wall time.Duration
	// Offsets from the ActionSet's creation, seen by the same watches:
	// the phase Job created, its data pod running, the data pod's deletion
	// requested (the function is done with it).
	jobSeen, dataPodRunning, dataPodDeleting time.Duration
	// The Job's own status times (1 s resolution).
	jobStart, jobCompletion time.Time
	outputs                 batonv1.JSONMap
	usage                   string
	runnerPeak              float64
	childrenPeak            float64
}

func (r phaseRun) breakdown() string {
	return fmt.Sprintf("job created +%s, data pod running +%s, data pod deleted +%s, job complete +%s; job status %s",
		r.jobSeen.Round(time.Millisecond), r.dataPodRunning.Round(time.Millisecond), r.dataPodDeleting.Round(time.Millisecond),
		r.wall.Round(time.Millisecond), r.jobCompletion.Sub(r.jobStart))
}

var usageLine = regexp.MustCompile(`baton-runner resources: runner peak RSS ([0-9.]+) MiB, cpu \S+; children peak RSS ([0-9.]+) MiB, cpu \S+`)

// runDataPhase runs fn with args as the single phase of a Blueprint of its
// own, through an ActionSet on the namespace ns with the Profile and the
// encryption key (secret "backupKey"), and times it.
func (e *engine) runDataPhase(b *testing.B, ctx context.Context, ns, profile string, key batonv1.ObjectReference, fn string, args batonv1.JSONMap) phaseRun {
	b.Helper()
	name := uniqueName("bench-" + strings.ToLower(fn))
	bp := &batonv1.Blueprint{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace},
		Actions: map[string]batonv1.BlueprintAction{"run": {SecretNames: []string{"backupKey"},
			Phases: []batonv1.BlueprintPhase{{Name: "data", Func: fn, Args: args}}}}}
	as := &batonv1.ActionSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: batonNamespace},
		Spec: batonv1.ActionSetSpec{Actions: []batonv1.ActionSpec{{
			Name: "run", Blueprint: name, Object: batonv1.ObjectReference{Kind: "Namespace", Name: ns},
			Profile: &batonv1.ObjectReference{Name: profile, Namespace: batonNamespace},
			Secrets: map[string]batonv1.ObjectReference{"backupKey": key},
		}}}}
	e.create(b, bp)

	jobSel := metav1.ListOptions{LabelSelector: dispatcher.LabelActionSet + "=" + name}
	podSel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/component=data-pod"}
	jobs, err := e.client.BatchV1().Jobs(batonNamespace).Watch(ctx, jobSel)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { jobs.Stop() }()
	pods, err := e.client.CoreV1().Pods(ns).Watch(ctx, podSel)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { pods.Stop() }()

	start := time.Now()
	e.create(b, as)
	var run phaseRun
	var done *batchv1.Job
	status := time.NewTicker(2 * time.Second)
	defer status.Stop()
	deadline := time.After(benchDataTimeout)
	for done == nil {
		select {
		case ev, ok := <-jobs.ResultChan():
			if !ok { // the server ended the watch: resume it
				if jobs, err = e.client.BatchV1().Jobs(batonNamespace).Watch(ctx, jobSel); err != nil {
					b.Fatal(err)
				}
				continue
			}
			job, isJob := ev.Object.(*batchv1.Job)
			if !isJob || ev.Type == watch.Deleted {
				continue
			}
			if run.jobSeen == 0 {
				run.jobSeen = time.Since(start)
			}
			if jobDone(job) {
				run.wall = time.Since(start)
				done = job
			}
		case ev, ok := <-pods.ResultChan():
			if !ok {
				if pods, err = e.client.CoreV1().Pods(ns).Watch(ctx, podSel); err != nil {
					b.Fatal(err)
				}
				continue
			}
			pod, isPod := ev.Object.(*corev1.Pod)
			if !isPod {
				continue
			}
			if run.dataPodRunning == 0 && pod.Status.Phase == corev1.PodRunning {
				run.dataPodRunning = time.Since(start)
			}
			if run.dataPodDeleting == 0 && (pod.DeletionTimestamp != nil || ev.Type == watch.Deleted) {
				run.dataPodDeleting = time.Since(start)
			}
		case <-status.C:
			var got batonv1.ActionSet
			if err := e.c.Get(ctx, client.ObjectKeyFromObject(as), &got); err == nil && got.Status.State == batonv1.StateFailed {
				b.Fatalf("%s failed: %+v\nphase log:\n%s", fn, got.Status.Error, e.phaseLog(b, ctx, name))
			}
		case <-deadline:
			b.Fatalf("%s: phase Job not complete after %s\nphase log:\n%s", fn, benchDataTimeout, e.phaseLog(b, ctx, name))
		}
	}
	if done.Status.StartTime != nil && done.Status.CompletionTime != nil {
		run.jobStart, run.jobCompletion = done.Status.StartTime.Time, done.Status.CompletionTime.Time
	}

	var got batonv1.ActionSet
	for {
		if err := e.c.Get(ctx, client.ObjectKeyFromObject(as), &got); err != nil {
			b.Fatal(err)
		}
		if got.Status.State.IsTerminal() {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	log := e.phaseLog(b, ctx, name)
	if got.Status.State != batonv1.StateComplete || len(got.Status.Actions) != 1 || len(got.Status.Actions[0].Phases) != 1 {
		b.Fatalf("%s: ActionSet %s ended %s: %+v\nphase log:\n%s", fn, name, got.Status.State, got.Status.Error, log)
	}
	run.outputs = got.Status.Actions[0].Phases[0].Output
	m := usageLine.FindStringSubmatch(log)
	if m == nil {
		b.Fatalf("%s: no resources line in the phase log:\n%s", fn, log)
	}
	run.usage = m[0]
	run.runnerPeak, _ = strconv.ParseFloat(m[1], 64)
	run.childrenPeak, _ = strconv.ParseFloat(m[2], 64)
	return run
}

// phaseLog is the log of the ActionSet's phase pods.
func (e *engine) phaseLog(b *testing.B, ctx context.Context, actionSet string) string {
	b.Helper()
	pods, err := e.client.CoreV1().Pods(batonNamespace).List(ctx, metav1.ListOptions{LabelSelector: dispatcher.LabelActionSet + "=" + actionSet})
	if err != nil {
		return fmt.Sprintf("(list phase pods: %v)", err)
	}
	var out strings.Builder
	for _, p := range pods.Items {
		raw, err := e.client.CoreV1().Pods(batonNamespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: dispatcher.MainContainer}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&out, "(logs of %s: %v)\n", p.Name, err)
			continue
		}
		out.Write(raw)
	}
	return out.String()
}

// resticRun is one restic command of the baseline.
type resticRun struct {
	wall, cpu time.Duration
	peakMiB   float64
}

// resticBaseline backs file up with plain restic into a fresh repository
// of s3 and restores it, as the runner calls restic (--no-cache), checking
// the restored file's SHA-256.
func resticBaseline(b *testing.B, bin string, s3 *testenv.S3, file string, want []byte) (out struct{ backup, restore resticRun }) {
	b.Helper()
	env := append(os.Environ(),
		"RESTIC_REPOSITORY=s3:"+s3.Endpoint+"/"+s3.Bucket+"/baseline-"+rand.String(6),
		"RESTIC_PASSWORD="+rand.String(32),
		"AWS_ACCESS_KEY_ID="+s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+s3.SecretKey, "AWS_DEFAULT_REGION=us-east-1")
	restic := func(args ...string) (string, resticRun) {
		cmd := exec.Command(bin, append([]string{"--no-cache"}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("restic %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		wall := time.Since(start)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		// ru_maxrss is in KiB on Linux.
		return stdout.String(), resticRun{wall: wall, cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), peakMiB: float64(ru.Maxrss) / 1024}
	}
	_, init := restic("init")
	summary, backup := restic("backup", "--json", "--quiet", "--host", "bench", file)
	var s struct {
		SnapshotID string `json:"snapshot_id"`
	}
	lines := strings.Split(strings.TrimSpace(summary), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.SnapshotID == "" {
		b.Fatalf("restic backup: no snapshot ID in %q: %v", summary, err)
	}
	target := b.TempDir()
	_, restore := restic("restore", s.SnapshotID, "--target", target)
	b.Logf("restic baseline: init %s; backup %s, peak %.1f MiB, cpu %s; restore %s, peak %.1f MiB, cpu %s",
		init.wall.Round(time.Millisecond), backup.wall.Round(time.Millisecond), backup.peakMiB, backup.cpu.Round(time.Millisecond),
		restore.wall.Round(time.Millisecond), restore.peakMiB, restore.cpu.Round(time.Millisecond))
	if got := fileSHA256(b, filepath.Join(target, file)); !bytes.Equal(got, want) {
		b.Fatalf("restic restore: restored file differs from the original")
	}
	if err := os.RemoveAll(target); err != nil {
		b.Fatal(err)
	}
	out.backup, out.restore = backup, restore
	return out
}

// randomFile writes benchDataBytes of random data into dir and returns its
// path and SHA-256.
func randomFile(b *testing.B, dir string) (string, []byte) {
	b.Helper()
	path := filepath.Join(dir, "blob")
	src, err := os.Open("/dev/urandom")
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), src, benchDataBytes); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, h.Sum(nil)
}

func fileSHA256(b *testing.B, path string) []byte {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		b.Fatal(err)
	}
	return h.Sum(nil)
}

// benchPVC is a claim of the default StorageClass. It asks for more than
// the data so that a provisioner enforcing the size (unlike local-path)
// has room for 1 GiB of file plus the filesystem's own.
func benchPVC(b *testing.B, e *engine, ns, name string) {
	b.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	}
	if _, err := e.client.CoreV1().PersistentVolumeClaims(ns).Create(context.Background(), pvc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
}

// benchJob runs script in the e2e-tools image with the claims mounted
// (claim -> path), waits for it to complete and returns its log.
func (e *engine) benchJob(b *testing.B, ns, name string, claims map[string]string, script string) string {
	b.Helper()
	ctx := context.Background()
	job := newJob(ns, name+"-"+rand.String(4), e2eToolsImage, "sh", "-c", script).obj()
	spec := &job.Spec.Template.Spec
	for claim, path := range claims {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: claim, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: claim, MountPath: path})
	}
	job.Spec.TTLSecondsAfterFinished = nil
	if _, err := e.client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(benchDataTimeout)
	for {
		got, err := e.client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if jobDone(got) {
			break
		}
		for _, c := range got.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				b.Fatalf("job %s/%s failed: %s\n%s", ns, job.Name, c.Message, e.jobLog(b, ns, job.Name))
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("job %s/%s not complete after %s", ns, job.Name, benchDataTimeout)
		}
		time.Sleep(time.Second)
	}
	return e.jobLog(b, ns, job.Name)
}

func (e *engine) jobLog(b *testing.B, ns, job string) string {
	b.Helper()
	ctx := context.Background()
	pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no pod of job %s: %v)", job, err)
	}
	raw, err := e.client.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return fmt.Sprintf("(logs of %s: %v)", pods.Items[0].Name, err)
	}
	return string(raw)
}
