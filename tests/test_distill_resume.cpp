// test_distill_resume.cpp - a distillation run stopped and resumed is the
// run never stopped: N iterations + state + N more give the student of 2N
// bit for bit (DMD, DisBack under both switch rules), in the library, from
// the CLI (--save-every / --resume, the log appended) and after Ctrl-C; a
// resume with other settings, another teacher or another path is refused.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <dirent.h>
#include <cstring>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "distill_fixture.hpp"

extern "C" {
#include "distill_state.h"
#include "output.h"
#include "safetensors.h"
}

namespace {

// ---- the schedule's observer state --------------------------------------

struct Sched {
  leap_disback_schedule *s = nullptr;
  explicit Sched(const leap_disback_schedule_desc &d) { REQUIRE(leap_disback_schedule_create(&d, &s) == LEAP_OK); }
  ~Sched() { leap_disback_schedule_destroy(s); }
};

// A loss that settles within each stage, then jumps at the switch: the
// converged rule's decisions depend on the window's exact contents.
double settling_loss(int i, int stage) { return 1.0 + stage + 1.0 / (1.0 + (i % 17)); }

std::vector<int> walk(leap_disback_schedule *s, int from, int iters) {
  std::vector<int> t;
  for (int i = from; i < from + iters; i++) {
    t.push_back(leap_disback_schedule_target(s));
    REQUIRE(leap_disback_schedule_observe(s, settling_loss(i, leap_disback_schedule_stage(s)), nullptr) == LEAP_OK);
  }
  return t;
}

leap_disback_schedule_desc converged_desc() {
  leap_disback_schedule_desc d = leap_disback_schedule_desc_default();
  d.n_checkpoints = 6, d.rule = LEAP_DISBACK_SWITCH_CONVERGED;
  d.window = 4, d.min_iters = 8, d.tolerance = 0.05, d.max_iters = 0;
  return d;
}

}  // namespace

TEST_CASE("disback schedule: window + restore_window resume the converged rule exactly", "[distill]") {
  const leap_disback_schedule_desc d = converged_desc();
  const int total = 400;
  Sched whole(d);
  const std::vector<int> a = walk(whole.s, 0, total);
  REQUIRE(leap_disback_schedule_stage(whole.s) >= 3);  // it switched several times
  // Cut at every iteration: mid-stage, right after a switch, at the start.
  int cuts_mid_stage = 0;
  for (int cut = 0; cut <= 120; cut++) {
    INFO("cut " << cut);
    Sched first(d);
    std::vector<int> b = walk(first.s, 0, cut);
    int64_t in_stage = -1;
    int count = -1;
    REQUIRE(leap_disback_schedule_window(first.s, &in_stage, nullptr, 0, &count) == LEAP_OK);
    CHECK(count == (int)std::min<int64_t>(in_stage, 2 * d.window));
    std::vector<double> win((size_t)count + 1);
    if (count > 0) CHECK(leap_disback_schedule_window(first.s, &in_stage, win.data(), count - 1, &count) == LEAP_ERR_INVALID_ARG);
    REQUIRE(leap_disback_schedule_window(first.s, &in_stage, win.data(), (int)win.size(), &count) == LEAP_OK);
    if (in_stage > 0 && in_stage < cut) cuts_mid_stage++;
    Sched resumed(d);
    REQUIRE(leap_disback_schedule_restore(resumed.s, leap_disback_schedule_stage(first.s), cut, in_stage) == LEAP_OK);
    REQUIRE(leap_disback_schedule_restore_window(resumed.s, in_stage, win.data(), count) == LEAP_OK);
    std::vector<int> c = walk(resumed.s, cut, total - cut);
    b.insert(b.end(), c.begin(), c.end());
    CHECK(b == a);
  }
  CHECK(cuts_mid_stage > 50);
  // Without its window the rule restarts the stage and switches elsewhere:
  // the window is what makes the resume exact.
  {
    const int cut = 50;
    Sched first(d);
    std::vector<int> b = walk(first.s, 0, cut);
    int64_t in_stage = 0;
    int count = 0;
    REQUIRE(leap_disback_schedule_window(first.s, &in_stage, nullptr, 0, &count) == LEAP_OK);
    REQUIRE(in_stage > 0);
    Sched plain(d);
    REQUIRE(leap_disback_schedule_restore(plain.s, leap_disback_schedule_stage(first.s), cut, in_stage) == LEAP_OK);
    std::vector<int> c = walk(plain.s, cut, total - cut);
    b.insert(b.end(), c.begin(), c.end());
    CHECK(b != a);
  }
  // Misuse: another count, another stage length, a non-finite loss.
  Sched s(d);
  int64_t in_stage = 0;
  int count = 0, done = 0;
  std::vector<double> win(64);
  // on until the stage holds a few losses
  for (; done < 200 && count < 3; done++) {
    walk(s.s, done, 1);
    REQUIRE(leap_disback_schedule_window(s.s, &in_stage, win.data(), 64, &count) == LEAP_OK);
  }
  REQUIRE(count >= 3);
  Sched r(d);
  REQUIRE(leap_disback_schedule_restore(r.s, leap_disback_schedule_stage(s.s), done, in_stage) == LEAP_OK);
  CHECK(leap_disback_schedule_restore_window(r.s, in_stage, win.data(), count - 1) == LEAP_ERR_INVALID_ARG);
  CHECK(leap_disback_schedule_restore_window(r.s, in_stage + 1, win.data(), count) == LEAP_ERR_INVALID_ARG);
  win[0] = NAN;
  CHECK(leap_disback_schedule_restore_window(r.s, in_stage, win.data(), count) == LEAP_ERR_NUMERIC);
  // The interval rule has no window: count 0, and restore_window only checks.
  leap_disback_schedule_desc di = leap_disback_schedule_desc_default();
  di.n_checkpoints = 2, di.interval = 5;
  Sched iv(di);
  walk(iv.s, 0, 7);
  REQUIRE(leap_disback_schedule_window(iv.s, &in_stage, nullptr, 0, &count) == LEAP_OK);
  CHECK(in_stage == 2);
  CHECK(count == 0);
}

// ---- the loop ------------------------------------------------------------

namespace {

struct Run {
  std::vector<lp_distill_stats> stats;
  std::vector<float> student, fake;
};

lp_distill *make(const std::string &teacher, const lp_distill_cfg &c) {
  lp_distill *d = nullptr;
  REQUIRE(lp_distill_create(teacher.c_str(), &c, &d) == LEAP_OK);
  return d;
}

void steps(lp_distill *d, int n, Run &r) {
  for (int i = 0; i < n; i++) {
    lp_distill_stats s{};
    REQUIRE(lp_distill_step(d, &s) == LEAP_OK);
    r.stats.push_back(s);
  }
  const lp_trainer *st = lp_distill_student(d);
  r.student.assign(st->params, st->params + st->L.total);
}

void save_state(lp_distill *d, const std::string &path) {
  lp_out *o = nullptr;
  REQUIRE(lp_distill_state_unit(d, path.c_str(), 1.5, nullptr, 0, &o) == LEAP_OK);
  REQUIRE(lp_out_commit(o) == LEAP_OK);
}

bool same_bits(const std::vector<float> &a, const std::vector<float> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_same_stats(const std::vector<lp_distill_stats> &a, const std::vector<lp_distill_stats> &b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); i++) {
    INFO("iteration " << i + 1);
    CHECK(a[i].iter == b[i].iter);
    CHECK(a[i].fake_loss == b[i].fake_loss);
    CHECK(a[i].dm_loss == b[i].dm_loss);
    CHECK(a[i].grad_norm == b[i].grad_norm);
    CHECK(a[i].target == b[i].target);
  }
}

}  // namespace

TEST_CASE("distill: N iterations + state + N more is 2N straight, bit for bit", "[distill]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path);
  struct Case {
    const char *name;
    lp_distill_method m;
    leap_disback_switch rule;
  };
  for (Case k : {Case{"dmd", LP_DISTILL_DMD, LEAP_DISBACK_SWITCH_INTERVAL},
                 Case{"disback interval", LP_DISTILL_DISBACK, LEAP_DISBACK_SWITCH_INTERVAL},
                 Case{"disback converged", LP_DISTILL_DISBACK, LEAP_DISBACK_SWITCH_CONVERGED}}) {
    INFO(k.name);
    lp_distill_cfg c = tiny_distill_cfg(k.m);
    c.schedule.rule = k.rule;
    // the converged rule switches within the run (after 2 or 3 iterations a stage)
    c.schedule.window = 1, c.schedule.min_iters = 2, c.schedule.tolerance = 0.5, c.schedule.max_iters = 3;
    const int N = 5;
    c.iters = 2 * N;
    const std::string dir = tmp.path + "/" + std::to_string((int)k.m) + std::to_string((int)k.rule);
    REQUIRE(mkdir(dir.c_str(), 0755) == 0);
    // straight through
    Run whole;
    lp_distill *d = make(teacher, c);
    if (k.m == LP_DISTILL_DISBACK) REQUIRE(lp_distill_record_path(d, nullptr, nullptr, nullptr) == LEAP_OK);
    steps(d, 2 * N, whole);
    lp_distill_destroy(d);
    // N, the state, then N more in a new run
    Run split;
    d = make(teacher, c);
    if (k.m == LP_DISTILL_DISBACK) REQUIRE(lp_distill_record_path(d, dir.c_str(), nullptr, nullptr) == LEAP_OK);
    steps(d, N, split);
    const std::string state = dir + "/state.safetensors";
    save_state(d, state);
    lp_distill_destroy(d);
    lp_distill_state_info info;
    REQUIRE(lp_distill_state_info_read(state.c_str(), &info) == LEAP_OK);
    CHECK(info.iter == N);
    CHECK(info.seconds == 1.5);
    CHECK(info.cfg.method == c.method);
    CHECK(info.cfg.schedule.rule == c.schedule.rule);
    d = make(teacher, c);
    REQUIRE(lp_distill_resume(d, state.c_str(), dir.c_str()) == LEAP_OK);
    CHECK(lp_distill_student(d)->step == N);
    steps(d, N, split);
    lp_distill_destroy(d);
    CHECK(same_bits(split.student, whole.student));
    check_same_stats(split.stats, whole.stats);
    if (k.m == LP_DISTILL_DISBACK) {
      // the run walked its path (the cut is not trivially at the teacher)
      CHECK(whole.stats[N - 1].target != LEAP_DISBACK_TEACHER);
      CHECK(whole.stats.back().target == LEAP_DISBACK_TEACHER);
    }
  }
}

TEST_CASE("distill: a resume with other settings, another teacher or another path is refused", "[distill]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path);
  lp_distill_cfg c = tiny_distill_cfg(LP_DISTILL_DISBACK);
  lp_distill *d = make(teacher, c);
  REQUIRE(lp_distill_record_path(d, tmp.path.c_str(), nullptr, nullptr) == LEAP_OK);
  Run r;
  steps(d, 3, r);
  const std::string state = tmp.path + "/state.safetensors";
  save_state(d, state);
  lp_distill_destroy(d);
  auto refused = [&](const lp_distill_cfg &cc, const std::string &t, const std::string &path_dir,
                     const std::string &says) {
    lp_distill *e = make(t, cc);
    CHECK(lp_distill_resume(e, state.c_str(), path_dir.c_str()) == LEAP_ERR_INVALID_ARG);
    const std::string msg = leap_last_error();
    INFO(msg);
    CHECK(msg.find(says) != std::string::npos);
    lp_distill_destroy(e);
  };
  lp_distill_cfg other = c;
  other.lr_student *= 2;
  refused(other, teacher, tmp.path, "--lr");
  other = c;
  other.fake_updates = 3;
  refused(other, teacher, tmp.path, "--fake-updates");
  other = c;
  other.method = LP_DISTILL_DMD;
  refused(other, teacher, tmp.path, "--method");
  // the iterations may grow
  other = c;
  other.iters = 1000;
  lp_distill *e = make(teacher, other);
  CHECK(lp_distill_resume(e, state.c_str(), tmp.path.c_str()) == LEAP_OK);
  // a resumed run resumes once
  CHECK(lp_distill_resume(e, state.c_str(), tmp.path.c_str()) == LEAP_ERR_INVALID_ARG);
  lp_distill_destroy(e);
  // another teacher of the same shape
  lt::TempDir tmp2;
  std::string t2 = tiny_teacher(tmp2.path);
  {
    lp_trainer *t = nullptr;
    lp_train_cfg tc = lp_train_cfg_default();
    tc.arch = lp_dit_arch{8, 1, 4, 16, 1, 2, 3, 2.0};
    tc.batch = 4;
    REQUIRE(lp_trainer_create(&tc, &t) == LEAP_OK);
    REQUIRE(lp_trainer_load_weights(t, t2.c_str()) == LEAP_OK);
    t->params[0] += 1e-3f;
    t2 = tmp2.path + "/teacher2.safetensors";
    REQUIRE(lp_trainer_save_model(t, t2.c_str(), 0, LEAP_F32) == LEAP_OK);
    lp_trainer_destroy(t);
  }
  refused(c, t2, tmp.path, "differs from the one the run was distilling with");
  // another degradation path: one checkpoint replaced by the teacher
  const std::string p1 = tmp.path + "/path_01.safetensors";
  REQUIRE(rename(teacher.c_str(), p1.c_str()) == 0);
  {
    lt::TempDir tmp3;
    const std::string t3 = tiny_teacher(tmp3.path);  // the same teacher again (same seed)
    refused(c, t3, tmp.path, "degradation path");
  }
}

// ---- the CLI ---------------------------------------------------------------

namespace {

int run_cli(const std::string &args, const std::string &log) {
  const std::string cmd = std::string("'") + LEAP_CLI_PATH + "' distill " + args + " > '" + log + "' 2>&1";
  const int st = system(cmd.c_str());
  REQUIRE(WIFEXITED(st));
  return WEXITSTATUS(st);
}

// The log's iteration lines without their wall-clock "seconds".
std::vector<std::string> iteration_lines(const std::string &path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> out;
  while (std::getline(in, line)) {
    if (line.rfind("{\"iter\": ", 0) != 0) continue;
    const size_t a = line.find(", \"seconds\": ");
    REQUIRE(a != std::string::npos);
    size_t b = line.find_first_of(",}", a + 2);
    out.push_back(line.substr(0, a) + line.substr(b));
  }
  return out;
}

// Two student files hold the same weights, bit for bit, and the same
// metadata but for train.data, which names the teacher as each run was given
// it (a resumed run takes the state's resolved path).
bool same_student(const std::string &a, const std::string &b) {
  lp_st_file *fa = nullptr, *fb = nullptr;
  REQUIRE(lp_st_open(a.c_str(), &fa) == LEAP_OK);
  REQUIRE(lp_st_open(b.c_str(), &fb) == LEAP_OK);
  bool same = lp_st_count(fa) == lp_st_count(fb) && lp_st_meta_count(fa) == lp_st_meta_count(fb);
  for (int i = 0; same && i < lp_st_count(fa); i++) {
    const lp_st_tensor *ta = lp_st_at(fa, i), *tb = lp_st_find(fb, ta->name);
    same = tb && ta->dtype == tb->dtype && ta->bytes == tb->bytes && std::memcmp(ta->data, tb->data, ta->bytes) == 0;
  }
  for (int i = 0; same && i < lp_st_meta_count(fa); i++) {
    const char *k = lp_st_meta_key(fa, i), *vb = lp_st_meta(fb, k);
    same = vb && (std::strcmp(k, "train.data") == 0 || std::strcmp(lp_st_meta(fa, k), vb) == 0);
  }
  lp_st_close(fa);
  lp_st_close(fb);
  return same;
}

std::string tiny_args(const std::string &teacher, const char *method) {
  return "--teacher '" + teacher + "' --method " + method +
         " --batch 4 --fake-updates 2 --lr 0.001 --lr-fake 0.001 --path-checkpoints 2 --path-iters 4 "
         "--interval 3 --seed 7 --threads 2 --quiet";
}

}  // namespace

TEST_CASE("leap distill --resume: N + N iterations are 2N, the log appended", "[distill][cli]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path), out = tmp.path + "/out.txt";
  for (const char *method : {"dmd", "disback"}) {
    INFO(method);
    const std::string whole = tmp.path + "/whole_" + method, split = tmp.path + "/split_" + method;
    const std::string args = tiny_args(teacher, method);
    REQUIRE(run_cli(args + " --iters 8 --save-every 3 --out '" + whole + "'", out) == 0);
    INFO(lt::slurp(out));
    REQUIRE(run_cli(args + " --iters 4 --out '" + split + "'", out) == 0);
    CHECK(lt::meta(split + "/state.safetensors", "distill.iter") == "4");
    // only --resume and the longer run: the settings come from the state
    REQUIRE(run_cli("--resume '" + split + "' --iters 8 --threads 2 --quiet", out) == 0);
    // the same student: weights bit for bit, and metadata
    CHECK(same_student(split + "/student.safetensors", whole + "/student.safetensors"));
    CHECK(lt::meta(split + "/state.safetensors", "distill.iter") == "8");
    const std::vector<std::string> a = iteration_lines(whole + "/log.jsonl"), b = iteration_lines(split + "/log.jsonl");
    CHECK(a.size() == 8);
    CHECK(a == b);
    const std::string log = lt::slurp(split + "/log.jsonl");
    CHECK(log.rfind("{\"distill\": 1", 0) == 0);
    CHECK(log.find("{\"event\": \"resume\", \"from_iter\": 4") != std::string::npos);
    // a setting that differs is refused before any work, naming it, and
    // the folder is left as it was
    const std::string state_before = lt::slurp(split + "/state.safetensors");
    CHECK(run_cli("--resume '" + split + "/state.safetensors' --iters 9 --lr 0.002", out) == 2);
    CHECK(lt::slurp(out).find("--lr 0.002 differs from the resumed run's 0.001") != std::string::npos);
    CHECK(run_cli("--resume '" + split + "' --iters 5", out) == 2);
    CHECK(lt::slurp(out).find("already at iteration 8") != std::string::npos);
    CHECK(run_cli("--resume '" + split + "' --out '" + whole + "'", out) == 2);
    CHECK(lt::slurp(split + "/state.safetensors") == state_before);
    CHECK(lt::slurp(split + "/log.jsonl") == log);
  }
  // A resume without a state says so.
  CHECK(run_cli("--resume '" + tmp.path + "' --quiet", out) == 1);
  CHECK(lt::slurp(out).find("state.safetensors") != std::string::npos);
}

TEST_CASE("leap distill: Ctrl-C writes the last finished iteration's state and student, exit 130", "[distill][cli]") {
  lt::TempDir tmp;
  const std::string teacher = tiny_teacher(tmp.path), dir = tmp.path + "/run", out = tmp.path + "/out.txt";
  const std::string args = tiny_args(teacher, "disback");
  // No periodic saves: the state that lands is Ctrl-C's own.
  const std::string cmd = std::string("exec '") + LEAP_CLI_PATH + "' distill " + args +
                          " --iters 1000000 --out '" + dir + "' > '" + out + "' 2>&1";
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), (char *)nullptr);
    _exit(127);
  }
  // Once the path's manifest has landed the loop is about to run: stop it.
  const std::string state = dir + "/state.safetensors", manifest = dir + "/path/path.json";
  for (int i = 0; i < 6000 && !lt::exists(manifest); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool started = lt::exists(manifest);
  CHECK(!lt::exists(state));
  kill(pid, SIGINT);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  INFO(lt::slurp(out));
  REQUIRE(started);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 130);
  CHECK(lt::slurp(out).find("interrupted after iteration") != std::string::npos);
  REQUIRE(lt::exists(state));
  const int K = std::stoi(lt::meta(state, "distill.iter"));
  REQUIRE(K >= 0);
  REQUIRE(K < 1000000);
  // the log ends at the state's iteration
  const std::vector<std::string> lines = iteration_lines(dir + "/log.jsonl");
  REQUIRE((int)lines.size() == K);
  if (K > 0) CHECK(lines.back().rfind("{\"iter\": " + std::to_string(K) + ",", 0) == 0);
  CHECK(lt::meta(dir + "/student.safetensors", "step") == std::to_string(K));
  // no temporaries left behind: the folder holds the run's files only
  std::vector<std::string> names;
  if (DIR *dd = opendir(dir.c_str())) {
    while (struct dirent *e = readdir(dd))
      if (e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))) names.push_back(e->d_name);
    closedir(dd);
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"log.jsonl", "path", "state.safetensors", "student.safetensors"});
  // resumed to K + 2, it is the run of K + 2 straight through
  REQUIRE(run_cli("--resume '" + dir + "' --iters " + std::to_string(K + 2) + " --quiet --threads 2", out) == 0);
  const std::string whole = tmp.path + "/whole";
  REQUIRE(run_cli(args + " --iters " + std::to_string(K + 2) + " --out '" + whole + "'", out) == 0);
  CHECK(same_student(dir + "/student.safetensors", whole + "/student.safetensors"));
  CHECK(iteration_lines(dir + "/log.jsonl") == iteration_lines(whole + "/log.jsonl"));
}
