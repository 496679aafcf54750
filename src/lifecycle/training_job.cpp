#include "lifecycle/training_job.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/time.hpp"
#include "forecast/baseline.hpp"
#include "lifecycle/model_registry.hpp"
#include "train/evaluator.hpp"
#include "train/history.hpp"
#include "train/model_source.hpp"
#include "train/origins.hpp"
#include "train/trainer.hpp"

namespace nordiq::lifecycle {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct TrainingJobs::Job {
  uint64_t id = 0;
  TrainingRequest request;
  EpochMs started_at = 0;
  Clock::time_point started = Clock::now();
  std::atomic<bool> cancel{false};

  mutable std::mutex mutex;  // guards everything below
  std::string state = "running", phase = "reading_history", error;
  EpochMs finished_at = 0;
  train::TrainProgress progress;
  bool trained_any = false;
  double scoring_done = 0;  // share of held-out windows forecast
  Clock::time_point phase_started = Clock::now();
  json history = nullptr, result = nullptr;

  void set_phase(std::string p) {
    std::lock_guard lock(mutex);
    phase = std::move(p);
    phase_started = Clock::now();
  }
};

namespace {

TrainingRequest parse_fields(const json& body) {
  TrainingRequest r;
  auto integer = [&](const char* field, int64_t lo, int64_t hi, auto& out) {
    const auto it = body.find(field);
    if (it == body.end()) return;
    if (!it->is_number_integer())
      throw TrainingRequestError(fmt::format("{}: must be an integer between {} and {}", field, lo, hi));
    const int64_t v = it->get<int64_t>();
    if (v < lo || v > hi) throw TrainingRequestError(fmt::format("{}: must be between {} and {}, got {}", field, lo, hi, v));
    out = static_cast<std::remove_reference_t<decltype(out)>>(v);
  };
  integer("epochs", 1, 200, r.epochs);
  integer("days", 2, 365, r.days);
  integer("holdout_days", 1, 30, r.holdout_days);
  integer("max_windows", 8, 1'000'000, r.max_windows);
  integer("hidden", 4, 128, r.hidden);
  integer("seed", 0, int64_t{1} << 53, r.seed);
  if (r.hidden % 4) throw TrainingRequestError(fmt::format("hidden: must be a multiple of 4 (4 attention heads), got {}", r.hidden));
  if (r.holdout_days >= r.days)
    throw TrainingRequestError(fmt::format("holdout_days: must be below days ({}), got {}", r.days, r.holdout_days));
  return r;
}

json request_json(const TrainingRequest& r) {
  return {{"epochs", r.epochs}, {"days", r.days}, {"holdout_days", r.holdout_days},
          {"max_windows", r.max_windows}, {"hidden", r.hidden}, {"seed", r.seed}};
}

// The job's thread (and the trainer's threads, which inherit it) runs under SCHED_IDLE by default:
// it gets only CPU time that forecast cycles and requests leave idle, and a waking request
// preempts it at once. Measured: at nice +10 a job still tripled the p99 of /predictions/current
// under load. Where SCHED_IDLE is refused, fall back to the niceness.
void lower_priority(const std::string& priority) {
  if (priority == "normal") return;
  if (priority == "idle") {
    sched_param param{};
    if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &param) == 0) return;
  }
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + 10) != 0)
    spdlog::warn("training: could not lower the job's CPU priority; it competes with serving");
}

std::string model_name_for(EpochMs t) {
  const std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "trained-%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

json scores_json(const train::Scores& s) {
  return {{"quantile_loss", s.quantile_loss}, {"mae_p50", s.mae_p50}, {"coverage_p10_p90", s.coverage_p10_p90}};
}

train::History read_recent_history(const TrainingSettings& settings, const TrainingRequest& request) {
  train::HistoryOptions ho;
  ho.step_seconds = settings.step_seconds;
  const EpochMs last = train::store_last_step(settings.data_dir);
  if (last == 0) throw std::runtime_error("the store holds no step history yet");
  ho.since = last - int64_t{request.days} * 86'400'000 + ho.step_seconds * 1000LL;
  return train::load_history(settings.data_dir.string(), ho);
}

void write_model_dir(const tft::Model& model, const fs::path& dir) {
  fs::create_directories(dir);
  model.save((dir / std::string(kModelFile)).string());
}

}  // namespace

TrainingRequest parse_training_request(const json& body) {
  if (!body.is_object()) throw TrainingRequestError("body: must be a JSON object like {\"epochs\": 5, \"days\": 7}");
  static const char* kFields[] = {"epochs", "days", "holdout_days", "max_windows", "hidden", "seed"};
  for (const auto& [key, value] : body.items())
    if (std::find_if(std::begin(kFields), std::end(kFields), [&](const char* f) { return key == f; }) == std::end(kFields))
      throw TrainingRequestError(fmt::format("{}: unknown field (known: epochs, days, holdout_days, max_windows, hidden, seed)",
                                             key.substr(0, 64)));
  return parse_fields(body);
}

TrainingJobs::TrainingJobs(TrainingSettings settings, CurrentModel current, Promote promote)
    : settings_(std::move(settings)), current_(std::move(current)), promote_(std::move(promote)) {}

TrainingJobs::~TrainingJobs() {
  cancel();
  if (thread_.joinable()) thread_.join();
}

bool TrainingJobs::start(const TrainingRequest& request) {
  std::lock_guard lock(mutex_);
  if (running_.load()) return false;
  if (thread_.joinable()) thread_.join();  // the previous job has finished
  auto job = std::make_shared<Job>();
  job->id = next_id_++;
  job->request = request;
  job->started_at = now_ms();
  job_ = job;
  running_ = true;
  thread_ = std::thread([this, job] { run(job); });
  return true;
}

void TrainingJobs::wait() {
  std::thread finished;
  {
    std::lock_guard lock(mutex_);
    finished = std::move(thread_);
  }
  if (finished.joinable()) finished.join();
}

bool TrainingJobs::cancel() {
  std::lock_guard lock(mutex_);
  if (!running_.load() || !job_) return false;
  job_->cancel = true;
  return true;
}

json TrainingJobs::status() const {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    job = job_;
  }
  if (!job) return {{"state", "idle"}, {"job", nullptr}};
  std::lock_guard lock(job->mutex);
  const double elapsed = std::chrono::duration<double>(Clock::now() - job->started).count();
  json j = {{"id", job->id},
            {"request", request_json(job->request)},
            {"started_at", format_iso8601(job->started_at)},
            {"finished_at", job->finished_at ? json(format_iso8601(job->finished_at)) : json(nullptr)},
            {"elapsed_seconds", elapsed},
            {"phase", job->phase},
            {"cancel_requested", job->cancel.load()},
            {"history", job->history},
            {"result", job->result},
            {"error", job->error.empty() ? json(nullptr) : json(job->error)}};
  const train::TrainProgress& p = job->progress;
  j["epoch"] = p.epoch;
  j["epochs"] = job->request.epochs;
  j["batch"] = p.batch;
  j["batches"] = p.batches;
  j["train_loss"] = job->trained_any ? json(p.train_loss) : json(nullptr);
  j["best_validation_loss"] = std::isfinite(p.best_validation_loss) && job->trained_any ? json(p.best_validation_loss) : json(nullptr);
  if (job->state != "running") {
    j["eta_seconds"] = 0;
  } else if (job->phase == "training" && job->trained_any) {
    j["eta_seconds"] = p.eta_seconds;
  } else if (job->phase == "scoring" && job->scoring_done > 0) {
    const double in_phase = std::chrono::duration<double>(Clock::now() - job->phase_started).count();
    j["eta_seconds"] = in_phase * (1 - job->scoring_done) / job->scoring_done;
  } else {
    j["eta_seconds"] = nullptr;  // not measurable yet
  }
  return {{"state", job->state}, {"job", j}};
}

namespace {

struct Scored {
  json held_out;                   // span and windows
  train::Scores candidate, current, last_value;
};

// Both models (and last value, for scale) on every 12th step of the held-out span.
Scored score_on_held_out(const train::History& history, int holdout_days, const fs::path& candidate_file,
                         const ServedModelRef& current, int threads, const std::function<void(double)>& progress) {
  train::OriginOptions oo;
  oo.holdout_days = holdout_days;
  oo.stride = 12;
  const std::vector<train::Origin> origins = train::enumerate_origins(history, oo);
  if (origins.empty())
    throw std::runtime_error(fmt::format(
        "the held-out span (last {} day(s)) has no forecast origin: each needs {} steps of history before it and {} after it",
        holdout_days, kMaxEncoderSteps, kHorizonSteps));
  std::vector<train::EvalModel> models;
  models.push_back({"candidate", train::open_model(candidate_file.string(), 1).make, false});
  if (current.file.empty())
    models.push_back({"current", [] { return std::make_unique<forecast::BaselineForecaster>(); }, false});
  else
    models.push_back({"current", train::open_model(current.file.string(), 1).make, false});
  models.push_back(train::baseline_models().front());  // last_value
  train::EvalOptions eo;
  eo.threads = threads;
  eo.progress = [&](int64_t done, int64_t total) { progress(double(done) / double(std::max<int64_t>(total, 1))); };
  const train::EvalReport report = train::evaluate(history, origins, models, eo);
  Scored s;
  s.held_out = {{"from", format_iso8601(train::holdout_start(history, holdout_days))},
                {"to", format_iso8601(history.last_step + history.step_ms)},
                {"windows", report.windows},
                {"stride_steps", oo.stride}};
  s.candidate = report.overall[0];
  s.current = report.overall[1];
  s.last_value = report.overall[2];
  return s;
}

}  // namespace

void TrainingJobs::run(std::shared_ptr<Job> job) {
  lower_priority(settings_.priority);
  const TrainingRequest& req = job->request;
  auto finish = [&](const char* state, std::string error) {
    {
      std::lock_guard lock(job->mutex);
      job->state = state;
      job->phase = "done";
      job->error = std::move(error);
      job->finished_at = now_ms();
    }
    running_ = false;
  };
  fs::path staging;
  try {
    const train::History history = read_recent_history(settings_, req);
    const EpochMs holdout = train::holdout_start(history, req.holdout_days);
    const train::History training = train::truncate_history(history, holdout);
    {
      std::lock_guard lock(job->mutex);
      job->history = {{"servers", history.servers.size()},
                      {"from", format_iso8601(history.first_step)},
                      {"to", format_iso8601(history.last_step + history.step_ms)},
                      {"training_until", format_iso8601(holdout)}};
    }
    if (training.empty()) throw std::runtime_error("no history before the held-out span: ask for more days");
    if (job->cancel) throw train::TrainingCancelled();

    job->set_phase("training");
    train::TrainOptions o;
    o.hidden = req.hidden;
    o.heads = 4;
    o.cont_hidden = std::min(16, req.hidden);
    o.epochs = req.epochs;
    o.max_windows = req.max_windows;
    o.max_validation = 500;
    o.seed = req.seed;
    o.threads = settings_.threads;
    o.progress = false;
    o.cancelled = [&] { return job->cancel.load(); };
    o.on_batch = [&](const train::TrainProgress& p) {
      std::lock_guard lock(job->mutex);
      job->progress = p;
      job->trained_any = true;
    };
    train::TrainResult trained = train::train_model(training, o, "daemon store " + settings_.data_dir.string());

    job->set_phase("scoring");
    const std::string name = model_name_for(job->started_at);
    staging = settings_.models_dir / ("." + name + ".staging");  // not a model name: never listed
    write_model_dir(*trained.model, staging);
    const ServedModelRef current = current_();
    const Scored scored = score_on_held_out(history, req.holdout_days, staging / std::string(kModelFile), current,
                                            settings_.threads, [&](double share) {
                                              if (job->cancel) throw train::TrainingCancelled();
                                              std::lock_guard lock(job->mutex);
                                              job->scoring_done = share;
                                            });
    const bool wins = scored.candidate.quantile_loss < scored.current.quantile_loss;
    std::string reason = fmt::format(
        "held-out quantile loss {:.4f} vs {:.4f} for the served model '{}' ({} windows): {}", scored.candidate.quantile_loss,
        scored.current.quantile_loss, current.name.empty() ? "baseline" : current.name, scored.held_out["windows"].get<int64_t>(),
        wins ? "the new model is better" : "the served model stays (the new one is not better)");

    job->set_phase("registering");
    json evaluation = {{"metric", "quantile loss over all metrics and horizons, raw units normalised per metric (nordiq eval)"},
                       {"held_out", scored.held_out},
                       {"candidate", scores_json(scored.candidate)},
                       {"current", scores_json(scored.current)},
                       {"current_model", current.name.empty() ? "baseline" : current.name},
                       {"last_value", scores_json(scored.last_value)},
                       {"promoted", wins},
                       {"reason", reason}};
    json manifest = trained.model->manifest();
    manifest["evaluation"] = evaluation;
    trained.model->set_manifest(manifest);
    write_model_dir(*trained.model, staging);
    fs::rename(staging, settings_.models_dir / name);
    staging.clear();
    bool promoted = false;
    if (wins) {
      const std::string error = promote_(name);
      promoted = error.empty();
      if (!promoted) reason += "; promotion failed: " + error;
    }
    {
      std::lock_guard lock(job->mutex);
      job->result = {{"model", name},
                     {"promoted", promoted},
                     {"reason", reason},
                     {"scores", {{"candidate", evaluation["candidate"]}, {"current", evaluation["current"]},
                                 {"current_model", evaluation["current_model"]}, {"last_value", evaluation["last_value"]}}},
                     {"held_out", scored.held_out},
                     {"training", {{"epochs", trained.epochs}, {"best_epoch", trained.best_epoch},
                                   {"best_validation_loss", trained.best_validation_loss},
                                   {"train_windows", trained.train_windows}, {"seconds", trained.seconds},
                                   {"windows_per_second", trained.windows_per_second}}}};
    }
    spdlog::info("training: job {} registered model {}: {}", job->id, name, reason);
    finish("completed", "");
  } catch (const train::TrainingCancelled&) {
    spdlog::info("training: job {} cancelled", job->id);
    finish("cancelled", "cancelled by request");
  } catch (const std::exception& e) {
    spdlog::warn("training: job {} failed: {}", job->id, e.what());
    finish("failed", e.what());
  }
  if (!staging.empty()) {
    std::error_code ec;
    fs::remove_all(staging, ec);
  }
}

}  // namespace nordiq::lifecycle
