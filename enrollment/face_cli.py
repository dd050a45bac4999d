"""``seed-enroll`` face commands: enrol from photos, check photos, and measure recognition.

Registered into ``seed-enroll`` by :func:`register`:

* ``face-add NUMBER PHOTO...``: enrol an employee's face from 3-5 photo files;
* ``face-check PHOTO...``: the enrolment quality gates on photos, without saving;
* ``eval-faces DIR``: identification accuracy and open-set false accepts on a folder of people;
* ``eval-pairs PAIRS.csv --images DIR``: verification accuracy on labelled pairs;
* ``make-pairs DIR OUT``: a pairs file of every pair of images in a people folder, for ``eval-pairs``;
* ``count-faces IMAGE...``: faces the anti-tailgating counter sees.

Every command prints JSON with ``--json``. ``eval-faces`` and ``eval-pairs`` also give
the true accept rate at false accept rates 0, 0.1 % and 1 % with the threshold for each;
``--no-flip`` measures plain descriptors, ``--probe-no-flip`` flip-averaged templates against
plain probes (the low_power profile's matching).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _print(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines))


def _error(message: str) -> None:
    print(f"seed-enroll: {message}", file=sys.stderr)


def _threshold(args: argparse.Namespace) -> tuple[float, float]:
    from terminal.config import FaceSettings

    defaults = FaceSettings()
    threshold = args.threshold if args.threshold is not None else defaults.match_threshold
    margin = args.margin if getattr(args, "margin", None) is not None else defaults.match_margin
    return threshold, margin


def _tar_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per false accept rate: 误识率 FAR, 通过率 TAR and the threshold giving them."""
    lines = []
    for row in rows:
        threshold = "-" if row["threshold"] is None else f"{row['threshold']:.4f}"
        lines.append(f"误识率 FAR <= {row['far'] * 100:g}%: 通过率 TAR {row['tar']} 阈值 threshold {threshold}"
                     f" (低于 below {row['limit']})")
    return lines


def _flip_modes(args: argparse.Namespace) -> tuple[bool, bool] | None:
    """(flip_average, probe_flip_average) of ``--no-flip`` / ``--probe-no-flip``; None (after saying why) for both."""
    if args.no_flip and args.probe_no_flip:
        _error("--probe-no-flip 与 --no-flip 不能同时使用:--probe-no-flip 的模板按登记方式镜像平均,--no-flip 则都不平均 "
               "--probe-no-flip cannot be used with --no-flip: --probe-no-flip keeps the templates flip-averaged as "
               "enrolment stores them, --no-flip describes everything plainly")
        return None
    return not args.no_flip, not (args.no_flip or args.probe_no_flip)


def cmd_eval_faces(args: argparse.Namespace) -> int:
    from enrollment.face_eval import EvaluationError, eval_faces

    threshold, margin = _threshold(args)
    modes = _flip_modes(args)
    if modes is None:
        return EXIT_USAGE
    try:
        result = eval_faces(args.dir, threshold=threshold, margin=margin, enrol=args.enrol,
                            flip_average=modes[0], probe_flip_average=modes[1])
    except EvaluationError as exc:
        _error(str(exc))
        return EXIT_USAGE
    lines = [f"{key:22} {result[key]}" for key in ("identities", "enrolled", "enrolled_per_person", "probes",
                                                   "top1_accuracy", "false_reject_rate", "impostor_probes",
                                                   "false_accept_rate", "threshold", "margin", "max_genuine_distance",
                                                   "min_impostor_distance", "median_ms_per_probe", "flip_average",
                                                   "probe_flip_average")]
    lines += _tar_lines(result["tar_at_far"])
    for item in result["misidentified"]:
        lines.append(f"misidentified: {item['file']} as {item.get('as')}")
    for item in result["accepted_impostors"]:
        lines.append(f"false accept: {item['file']} as {item['as']} ({item['distance']})")
    for item in result["problems"]:
        lines.append(f"problem: {item['file']}: {item['problem']}")
    _print(result, args.json, lines)
    return EXIT_OK


def cmd_eval_pairs(args: argparse.Namespace) -> int:
    from enrollment.face_eval import EvaluationError, eval_pairs

    threshold, _ = _threshold(args)
    modes = _flip_modes(args)
    if modes is None:
        return EXIT_USAGE
    try:
        result = eval_pairs(args.pairs, args.images, threshold=threshold, flip_average=modes[0],
                            probe_flip_average=modes[1])
    except EvaluationError as exc:
        _error(str(exc))
        return EXIT_USAGE
    lines = [f"{key:22} {value}" for key, value in result.items() if key not in ("problems", "tar_at_far")]
    lines += _tar_lines(result["tar_at_far"])
    lines += [f"problem: {p['file']}: {p['problem']}" for p in result["problems"]]
    _print(result, args.json, lines)
    return EXIT_OK


def cmd_make_pairs(args: argparse.Namespace) -> int:
    from enrollment.face_eval import EvaluationError, folder_pairs

    try:
        pairs_csv, images = folder_pairs(args.dir, args.out)
    except (EvaluationError, OSError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    result = {"pairs": str(pairs_csv), "images": str(images)}
    _print(result, args.json, [f"配对文件 pairs file: {pairs_csv}", f"图片目录 images: {images}",
                               f"seed-enroll eval-pairs {pairs_csv} --images {images}"])
    return EXIT_OK


def _enrol_count(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10:
        raise argparse.ArgumentTypeError("must be between 1 and 10 images")
    return value


def cmd_count_faces(args: argparse.Namespace) -> int:
    from enrollment.face_eval import count_faces

    counts, problems = count_faces(args.images, min_face_px=args.min_face_px)
    for problem in problems.values():
        _error(problem)
    _print(counts, args.json, [f"{count}\t{file}" for file, count in counts.items()])
    return EXIT_FAILURE if problems else EXIT_OK


def cmd_face_check(args: argparse.Namespace) -> int:
    from enrollment.faces import FaceEnroller

    with FaceEnroller() as enroller:
        checks = [enroller.check_file(path) for path in args.photos]
    _print([c.as_dict() for c in checks], args.json, [c.message for c in checks])
    return EXIT_OK if all(c.ok for c in checks) else EXIT_FAILURE


def cmd_face_add(args: argparse.Namespace) -> int:
    from enrollment.cli import open_configured_store
    from enrollment.faces import EnrolmentError, enrol_photos

    config, store = open_configured_store(args)
    with store:
        try:
            report = enrol_photos(store, args.number, args.photos, replace=args.replace, min_shots=args.min_shots,
                                  threshold=config.face.match_threshold, margin=config.face.match_margin,
                                  actor=args.actor)
        except EnrolmentError as exc:
            _error(f"refused: {exc}")
            return EXIT_FAILURE
    lines = [p["message"] for p in report["photos"]]
    lines.append(f"enrolled employee {report['employee']}: {report['templates']} face template(s)")
    _print(report, args.json, lines)
    return EXIT_OK


def _positive_px(text: str) -> float:
    value = float(text)
    if not 8 <= value <= 2000:
        raise argparse.ArgumentTypeError("must be between 8 and 2000 pixels")
    return value


def _distance(text: str) -> float:
    value = float(text)
    if not 0 < value < 2:
        raise argparse.ArgumentTypeError("must be a distance between 0 and 2")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the face commands to ``seed-enroll``'s sub-command parser."""
    add = subparsers.add_parser("face-add", help="enrol an employee's face from photo files (3-5 photos)")
    add.add_argument("number", help="employee number")
    add.add_argument("photos", nargs="+", type=Path, help="photos of the employee, one face each")
    add.add_argument("--replace", action="store_true", help="replace the employee's existing face templates")
    add.add_argument("--min-shots", type=int, default=3, choices=range(1, 6), metavar="N",
                     help="good photos required (default %(default)s)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_face_add)

    check = subparsers.add_parser("face-check", help="check photos against the enrolment quality gates")
    check.add_argument("photos", nargs="+", type=Path)
    check.add_argument("--json", action="store_true")
    check.set_defaults(func=cmd_face_check)

    no_flip_help = ("模板和测试脸都只算一次描述子(不与镜像平均),与旧版相同;低功耗配置的比对请用 --probe-no-flip "
                    "describe templates and probes once each, without averaging with the mirror image (plain against "
                    "plain, as before; the low_power profile's matching is --probe-no-flip)")
    probe_no_flip_help = ("模板按登记方式镜像平均,测试脸只算一次(低功耗配置 low_power 在门口就是这样比对的);配对按两种顺序各比一次 "
                          "templates flip-averaged as enrolment stores them, probes described with one ResNet pass: "
                          "what the low_power profile does at the door (eval-pairs compares each pair both ways, "
                          "each image once the template and once the probe)")
    tar_note = ("; also prints the true accept rate (tar_at_far) at false accept rates 0, 0.1%% and 1%% "
                "with the threshold for each")
    faces = subparsers.add_parser(
        "eval-faces", help="按人分文件夹评估识别率 identification accuracy on a folder with one folder per person"
                           + tar_note)
    faces.add_argument("dir", type=Path)
    faces.add_argument("--threshold", type=_distance, help="match threshold (default: face.match_threshold default)")
    faces.add_argument("--margin", type=float, help="required margin over the best other identity")
    faces.add_argument("--enrol", type=_enrol_count, default=1, metavar="N",
                       help="每人登记前 N 张照片,其余作为测试 enrol each person's first N images (by name), probe with "
                            "the rest (default %(default)s; the terminal enrols 3-5 shots)")
    faces.add_argument("--no-flip", action="store_true", help=no_flip_help)
    faces.add_argument("--probe-no-flip", action="store_true", help=probe_no_flip_help)
    faces.add_argument("--json", action="store_true")
    faces.set_defaults(func=cmd_eval_faces)

    pairs = subparsers.add_parser(
        "eval-pairs", help="按配对评估验证率 verification accuracy on a CSV of pairs (a,b,same)" + tar_note)
    pairs.add_argument("pairs", type=Path)
    pairs.add_argument("--images", type=Path, required=True, help="folder the file names in the CSV are relative to")
    pairs.add_argument("--threshold", type=_distance)
    pairs.add_argument("--no-flip", action="store_true", help=no_flip_help)
    pairs.add_argument("--probe-no-flip", action="store_true", help=probe_no_flip_help)
    pairs.add_argument("--json", action="store_true")
    pairs.set_defaults(func=cmd_eval_pairs)

    make = subparsers.add_parser(
        "make-pairs", help="由按人分文件夹的照片生成全部配对 every pair of a people folder as PAIRS.csv for eval-pairs")
    make.add_argument("dir", type=Path, help="one folder per person")
    make.add_argument("out", type=Path, help="folder to write pairs.csv and images/ into")
    make.add_argument("--json", action="store_true")
    make.set_defaults(func=cmd_make_pairs)

    count = subparsers.add_parser("count-faces", help="faces the anti-tailgating counter sees in each image")
    count.add_argument("images", nargs="+", type=Path)
    count.add_argument("--min-face-px", type=_positive_px, default=32, help="smallest face counted (default %(default)s)")
    count.add_argument("--json", action="store_true")
    count.set_defaults(func=cmd_count_faces)
