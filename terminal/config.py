"""Terminal configuration: one TOML file loaded into strict models.

Every field is described, unknown keys are rejected and bounds are checked, so a
typo in ``/etc/seed/terminal.toml`` is an error at start rather than a silently
ignored setting. ``seed-terminal --validate-config FILE`` prints each problem with
its dotted key.

Types are strict: ``debounce_s = "60"``, ``tls = "no"`` or ``enabled = 0`` are refused, not
coerced (a whole number still fills a fractional setting, and a path is written as text).
Values that would validate and then fail are refused too: an empty database name, a face
zone whose corners are out of order, and a key file (``storage.key_file``, ``sync.key_file``)
that users other than its owner can read.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from contract.keyfiles import KeyFileError, check_private_file

DEFAULT_CONFIG_PATH = Path("/etc/seed/terminal.toml")

HardwareProfile = Literal["pi", "sim"]
Language = Literal["zh", "en"]
# A path is written as text in TOML: the one type taken from another (strict mode wants a Path object).
ConfigPath = Annotated[Path, Strict(False)]


class Section(BaseModel):
    """Base of every configuration section: unknown keys are errors, and no value is coerced to another type."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, strict=True)


def _private_key_file(value: Path | None, what: str) -> Path | None:
    """A key file that exists must be readable by its owner only; one not there yet is for its reader to report."""
    if value is None:
        return value
    try:
        check_private_file(value, what)
    except KeyFileError as exc:
        raise ValueError(str(exc)) from None
    except OSError:  # missing, or not ours to look at: the program that reads it says so
        pass
    return value


class DeviceSettings(Section):
    id: str = Field("seed-dev-0001", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                    description="Device id (its serial); also the MQTT client id and topic segment.")
    site: str = Field("default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                      description="Site the terminal belongs to; MQTT topic segment.")
    name: str = Field("Front door", max_length=100, description="Human name of the door, shown to admins.")
    company_name: str = Field("Seed", max_length=100, description="Company name shown on the idle screen.")
    language: Language = Field("zh", description="Language of screens and voice: zh (Simplified Chinese) or en.")
    timezone: str = Field("Asia/Shanghai", description="IANA time zone used for local day boundaries and display.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class StorageSettings(Section):
    data_dir: ConfigPath = Field(Path("/var/lib/seed"), description="Directory holding the encrypted database and its backups.")
    database: str = Field("terminal.db", min_length=1, max_length=255, description="Database file name inside data_dir.")
    key_file: ConfigPath | None = Field(
        None,
        description="File holding the raw 256-bit database key (64 hex characters). Default: the systemd "
        "credential named by key_credential when $CREDENTIALS_DIRECTORY is set, else data_dir/db.key.",
    )
    key_credential: str = Field("seed-db-key", description="Name of the systemd credential (LoadCredential=) with the key.")
    min_free_mb: int = Field(20, ge=0, le=10_000,
                             description="Punches are refused (with a disk_low event) below this much free space; 0 turns the check off.")
    busy_timeout_ms: int = Field(5000, ge=100, le=60_000, description="How long a writer waits for the other process's lock.")
    keep_backups: int = Field(3, ge=1, le=50, description="Pre-migration backups kept in data_dir.")

    @field_validator("database")
    @classmethod
    def _a_file_name(cls, value: str) -> str:
        name = value.strip()
        if not name or name in (".", "..") or value.endswith(("/", "\\")) or Path(name).name in ("", ".", ".."):
            raise ValueError(f"must name a database file inside data_dir, not {value!r}")
        return value

    @field_validator("key_file")
    @classmethod
    def _private_key(cls, value: Path | None) -> Path | None:
        return _private_key_file(value, "database key file")

    @property
    def database_path(self) -> Path:
        return self.data_dir / self.database


DriverName = Literal["pi", "sim"] | None


class CameraSettings(Section):
    enabled: bool = Field(True, description="Whether a camera is fitted (face recognition needs it).")
    driver: DriverName = Field(None, description="pi (real camera) or sim; empty means hardware.profile.")
    device: str = Field("0", description="V4L2 index or path for a USB camera, or 'picamera2' for the Pi camera.")
    width: int = Field(640, ge=160, le=3840, description="Capture width in pixels.")
    height: int = Field(480, ge=120, le=2160, description="Capture height in pixels.")
    fps: float = Field(15.0, gt=0, le=60, description="Frames per second requested from the camera or played by the simulator.")
    sim_source: ConfigPath | None = Field(None, description="Simulator: an image folder or a video file to play.")
    read_timeout_s: float = Field(2.0, gt=0, le=30, description="A camera that gives no frame for this long is reported as gone.")
    sim_loop: bool = Field(True, description="Simulator: start the image folder or video file again when it ends.")
    reopen_max_s: float = Field(30.0, ge=1, le=600,
                                description="Longest pause between attempts to reopen a camera that went away (pauses double from 0.5 s).")


class FingerprintSettings(Section):
    enabled: bool = Field(True, description="Whether a fingerprint sensor is fitted.")
    driver: DriverName = Field(None, description="pi (real sensor over serial) or sim (emulator on a pty); empty means hardware.profile.")
    port: str = Field("/dev/ttyAMA0", description="Serial port of the ZFM/R307 sensor.")
    baudrate: int = Field(57600, description="Serial speed; the sensor's default is 57600.")
    address: int = Field(0xFFFFFFFF, ge=0, le=0xFFFFFFFF, description="Sensor module address.")
    password: int = Field(0, ge=0, le=0xFFFFFFFF, description="Sensor password.")
    probe_timeout_s: float = Field(3.0, gt=0, le=30, description="A sensor that does not answer within this time is reported as missing.")
    poll_interval_s: float = Field(0.05, ge=0.01, le=1,
                                   description="Pause between two 'is a finger on the glass?' images while waiting for a finger.")
    retry_max_s: float = Field(30.0, ge=1, le=600,
                               description=("Longest pause between attempts to reach a sensor that stopped answering (pauses double from "
                                            "1 s)."))
    max_fingers: int = Field(3, ge=1, le=10, description="Fingers one employee may enrol.")
    enrol_step_timeout_s: float = Field(20.0, ge=2, le=120,
                                        description="Enrolment: how long to wait for each press of the finger and each lift.")
    sim_library: ConfigPath | None = Field(None,
                                           description=("Simulator: file holding the emulated template library (default "
                                                        "data_dir/fingerprint-sim.bin)."))
    sim_capacity: int = Field(1000, ge=1, le=1024,
                              description=("Simulator: template library capacity (R307: 1000; the driver reads at most 4 index pages, "
                                           "1024 positions)."))
    sim_control: ConfigPath | None = Field(None,
                                           description=("Simulator: unix socket taking 'place FINGER' / 'lift' lines (default "
                                                        "data_dir/fingerprint-sim.sock)."))

    @field_validator("baudrate")
    @classmethod
    def _sensor_baud(cls, value: int) -> int:
        if value % 9600 or not 9600 <= value <= 115200:
            raise ValueError("must be a multiple of 9600 between 9600 and 115200")
        return value


class CardReaderSettings(Section):
    enabled: bool = Field(True, description="Whether a card reader is fitted.")
    driver: DriverName = Field(None, description="pi (evdev keyboard-wedge reader) or sim; empty means hardware.profile.")
    device: str = Field("/dev/input/by-id/usb-rfid-reader-event-kbd", description="evdev device of the reader (grabbed exclusively).")
    format: Literal["auto", "decimal", "hex", "wiegand26", "wiegand34"] = Field(
        "auto", description="How the reader presents card numbers; auto guesses from the digits."
    )
    grab: bool = Field(True, description="Grab the reader exclusively so its keystrokes never reach other programs.")
    key_timeout_s: float = Field(1.0, ge=0.05, le=10,
                                 description="A card number not finished by Enter within this time is discarded as a misread.")


class OutputSettings(Section):
    enabled: bool = Field(True, description="Whether the relay, LEDs and buzzer are wired to GPIO.")
    driver: DriverName = Field(None, description="pi (gpiozero on real pins) or sim (gpiozero MockFactory); empty means hardware.profile.")
    relay_pin: int = Field(17, ge=0, le=27, description="BCM pin of the door relay.")
    relay_active_high: bool = Field(False, description="Relay boards are usually active-low; set true for active-high.")
    door_pulse_s: float = Field(3.0, ge=0.1, le=30, description="How long the door relay is held open on an accepted punch.")
    green_led_pin: int = Field(27, ge=0, le=27, description="BCM pin of the green LED.")
    red_led_pin: int = Field(22, ge=0, le=27, description="BCM pin of the red LED.")
    buzzer_pin: int = Field(23, ge=0, le=27, description="BCM pin of the buzzer.")
    led_on_s: float = Field(2.0, ge=0.1, le=30, description="How long the green or red LED stays lit after a result.")
    open_door_on_punch: bool = Field(True, description="Pulse the relay on an accepted punch (attendance-only sites turn it off).")
    buzzer_active_high: bool = Field(True, description="Buzzer sounds when its pin is high; set false for active-low buzzer boards.")
    beep_s: float = Field(0.1, ge=0.02, le=2, description="Length of one beep.")
    beep_gap_s: float = Field(0.1, ge=0.02, le=2, description="Silence between beeps of a pattern.")
    accept_beeps: int = Field(1, ge=0, le=5, description="Beeps on an accepted punch (0: silent).")
    refuse_beeps: int = Field(3, ge=0, le=10, description="Beeps on a refusal (0: silent).")


class SpeakerSettings(Section):
    driver: DriverName = Field(None,
                               description=("pi (espeak-ng rendered WAV played by aplay) or sim (WAV files only); empty means "
                                            "hardware.profile."))
    enabled: bool = Field(True, description="Speak results.")
    volume: int = Field(80, ge=0, le=100, description="Volume in percent.")
    player: str = Field("aplay -q", description="Command that plays a WAV file given as its last argument.")
    cache_dir: ConfigPath | None = Field(None, description="Where rendered phrases are cached (default data_dir/voice).")
    voice_zh: str = Field("cmn-latn-pinyin", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+-]+$",
                          description="espeak-ng voice for Chinese (see `espeak-ng --voices=cmn`).")
    voice_en: str = Field("en", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+-]+$",
                          description="espeak-ng voice for English.")
    rate_wpm: int = Field(160, ge=80, le=400, description="Speaking rate in words per minute.")
    cache_max_files: int = Field(2000, ge=50, le=100_000,
                                 description="Rendered phrases kept in the cache; the oldest are removed beyond this.")


class ClockSettings(Section):
    driver: DriverName = Field(None, description="pi (system clock, kernel NTP state) or sim; empty means hardware.profile.")
    ntp_servers: list[str] = Field(default_factory=lambda: ["pool.ntp.org"], description="NTP servers checked by the sync agent.")
    ntp_port: int = Field(123, ge=1, le=65535, description="NTP port (tests use a local chrony on another port).")
    max_offset_s: float = Field(2.0, gt=0, le=3600, description="An NTP offset beyond this becomes a clock event.")
    check_interval_s: float = Field(600, ge=5, le=86_400, description="How often the clock is checked against NTP.")


class HardwareSettings(Section):
    profile: HardwareProfile = Field("pi",
                                     description="pi uses real drivers, sim the simulators; each device may override with its own driver.")
    camera: CameraSettings = Field(default_factory=CameraSettings, description="Camera.")
    fingerprint: FingerprintSettings = Field(default_factory=FingerprintSettings, description="Fingerprint sensor.")
    card_reader: CardReaderSettings = Field(default_factory=CardReaderSettings, description="RFID card reader.")
    outputs: OutputSettings = Field(default_factory=OutputSettings, description="Door relay, LEDs and buzzer.")
    speaker: SpeakerSettings = Field(default_factory=SpeakerSettings, description="Voice feedback.")
    clock: ClockSettings = Field(default_factory=ClockSettings, description="Wall clock and time trust.")

    def driver_for(self, device: str) -> str:
        """The driver chosen for one device: its own setting, else the profile."""
        section = getattr(self, device)
        return section.driver or self.profile


class PunchSettings(Section):
    debounce_s: int = Field(60, ge=0, le=3600, description="A second punch by the same employee within this time is 'already recorded'.")
    direction_mode: Literal["alternate", "buttons", "in_only", "out_only"] = Field(
        "alternate",
        description=("alternate: first punch of the local day is IN, then OUT, IN...; buttons: the employee chooses; in_only/out_only: "
                     "fixed doors."),
    )
    day_starts_at: str = Field("04:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                               description="Local time at which a new attendance day starts (HH:MM).")
    second_factor_timeout_s: float = Field(10.0, ge=2, le=120,
                                           description="Time allowed for a second factor in combined verification modes.")
    pin_max_attempts: int = Field(3, ge=1, le=10, description="Wrong PINs in a row before PIN entry is locked for that employee.")
    pin_lockout_s: int = Field(300, ge=10, le=86_400, description="How long PIN entry stays locked after too many wrong PINs.")


class FaceSettings(Section):
    enabled: bool = Field(True, description="Recognise employees by face.")
    match_threshold: float = Field(0.55, gt=0, lt=1.5,
                                   description=("Largest descriptor distance accepted as a match (measured on all 2346 pairs of the "
                                                "shared photos, flip-averaged: same person <= 0.531, different people >= 0.616; tune "
                                                "with seed-enroll eval-pairs / eval-faces, tar_at_far)."))
    match_margin: float = Field(0.04, ge=0, lt=1,
                                description="Required distance gap between the best identity and the best other identity.")
    min_face_px: int = Field(80, ge=20, le=1000, description="Faces smaller than this (box width in pixels) are ignored.")
    tailgate_min_face_px: int = Field(60, ge=20, le=1000,
                                      description=("Another face in the zone at least this wide means tailgating (smaller than "
                                                   "min_face_px: the second person stands further back)."))
    turn_challenge_s: float = Field(4.0, ge=1, le=20,
                                    description=("Time allowed to answer the head-turn challenge (after the prompt)."))
    descriptor_backend: Literal["opencv", "numpy", "dlib"] = Field(
        "opencv", description=("Which code runs dlib's ResNet (the same descriptors from each): opencv, OpenCV's DNN module "
                               "(~3x faster than numpy); numpy, im2col on numpy's BLAS; dlib, dlib's own code (~8x slower "
                               "than numpy)."))
    descriptor_flip_average: bool = Field(True,
                                          description=("Average each face's descriptor with its mirror image's: fewer false "
                                                       "rejects (largest same-person distance 0.568 -> 0.531 on the shared photos) "
                                                       "for ~1.8x the descriptor time; templates enrolled either way keep "
                                                       "matching. The low_power profile never does (one ResNet pass)."))
    zone: tuple[float, float, float, float] = Field(
        (0.1, 0.0, 0.9, 1.0), description="Capture zone as fractions of the frame (left, top, right, bottom)."
    )

    tailgate_zone: tuple[float, float, float, float] = Field(
        (0.0, 0.0, 1.0, 1.0), description=("Where a second face counts as tailgating; the whole frame by default, so a person "
                                           "cut by the frame's edge counts; narrow it only where people pass by in view of the "
                                           "camera.")
    )

    @field_validator("zone", "tailgate_zone", mode="before")
    @classmethod
    def _zone_list(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value  # TOML has arrays, not tuples

    @field_validator("zone", "tailgate_zone")
    @classmethod
    def _zone_in_order(cls, value: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        left, top, right, bottom = value
        if not (0.0 <= left < right <= 1.0 and 0.0 <= top < bottom <= 1.0):
            raise ValueError(f"must be [left, top, right, bottom] as fractions of the frame with 0 <= left < right <= 1 "
                             f"and 0 <= top < bottom <= 1, not {list(value)}")
        return value
    liveness: Literal["challenge", "blink", "blink_or_turn", "turn", "off"] = Field(
        "challenge", description=("Evidence of a live person needed before a face punch: challenge (default) asks for a head "
                                  "turn to a random side once the face is frontal and still, answered after the prompt; "
                                  "blink, blink_or_turn and turn accept a blink or an unprompted turn, which a video "
                                  "replayed on a phone also shows (docs/liveness.md); off only for tests.")
    )
    profile: Literal["standard", "low_power"] = Field(
        "standard", description=("Compute per frame: standard analyses every camera frame (the detector on every fourth, "
                                 "the face mesh tracking the face in between; three best shots; the mesh refined around "
                                 "the irises where blinks count as liveness); low_power (Raspberry Pi) "
                                 "analyses every second frame (every frame for the end of the turn), keeps two shots, "
                                 "never refines the mesh and describes a face with one ResNet pass (no flip average)."))
    window_s: float = Field(4.0, ge=1, le=20, description="Recognition window: time to collect liveness evidence for one approach.")
    unknown_attempts_before_fallback: int = Field(3, ge=1, le=20,
                                                  description="Unknown-face attempts before fingerprint, card or PIN is offered.")


class SyncSettings(Section):
    enabled: bool = Field(True, description="Run the MQTT sync agent.")
    broker_host: str = Field("localhost", description="MQTT broker host.")
    broker_port: int = Field(8883, ge=1, le=65535, description="MQTT broker port.")
    tls: bool = Field(True, description="Use TLS with a client certificate.")
    ca_file: ConfigPath | None = Field(None, description="Site CA certificate.")
    cert_file: ConfigPath | None = Field(None, description="This device's client certificate.")
    key_file: ConfigPath | None = Field(None, description="This device's private key.")
    command_public_key: ConfigPath | None = Field(None, description="The central's Ed25519 public key that signs commands.")
    batch_size: int = Field(500, ge=1, le=500, description="Punches per published batch (the contract allows at most 500).")
    ack_timeout_s: float = Field(10.0, gt=0, le=600, description="A batch not acknowledged within this time is sent again (with backoff).")
    heartbeat_s: float = Field(30.0, ge=1, le=3600, description="How often status is published.")
    key_credential: str = Field("seed-device-key",
                                description=("systemd credential (LoadCredential=) holding the device key; used instead of key_file when "
                                             "present."))
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keepalive; a dead connection is noticed within about 1.5 times this.")
    max_inflight_batches: int = Field(4, ge=1, le=16, description="Batches of each kind published and not yet acknowledged at once.")
    poll_interval_s: float = Field(0.1, ge=0.01, le=10, description="How often the outbox is checked for new rows.")
    retry_max_s: float = Field(300.0, ge=1, le=3600,
                               description="Longest wait between resends of an unacknowledged batch (backoff doubles up to this).")
    command_max_age_s: float = Field(300.0, ge=5, le=86_400,
                                     description="Commands issued longer ago (or further ahead) than this are refused.")

    @field_validator("key_file")
    @classmethod
    def _private_key(cls, value: Path | None) -> Path | None:
        return _private_key_file(value, "TLS private key")


class UISettings(Section):
    fullscreen: bool = Field(True, description="Run full-screen (kiosk).")
    width: int = Field(800, ge=320, le=3840, description="Window width when not full-screen.")
    height: int = Field(480, ge=240, le=2160, description="Window height when not full-screen.")
    result_s: float = Field(3.0, ge=0.5, le=30, description="How long a result screen stays up.")
    admin_timeout_s: int = Field(120, ge=15, le=3600, description="Admin mode ends after this much inactivity.")
    screensaver_s: int = Field(300, ge=10, le=86_400, description="The screen dims after this much inactivity.")
    font: ConfigPath | None = Field(None, description="CJK-capable font file; found on the system when empty.")
    rotation: Literal[0, 90, 180, 270] = Field(0,
                                               description=("Rotate the picture for a screen mounted the other way (portrait mounting: "
                                                            "90 or 270)."))
    screensaver_dim: float = Field(0.9, ge=0.3, le=1.0, description="How dark the screensaver makes the screen (1 = black).")


class TerminalConfig(Section):
    """The whole terminal configuration (``/etc/seed/terminal.toml``)."""

    device: DeviceSettings = Field(default_factory=DeviceSettings, description="Identity of this terminal.")
    storage: StorageSettings = Field(default_factory=StorageSettings, description="Encrypted local database.")
    hardware: HardwareSettings = Field(default_factory=HardwareSettings, description="Devices and their drivers.")
    punch: PunchSettings = Field(default_factory=PunchSettings, description="Punch policy.")
    face: FaceSettings = Field(default_factory=FaceSettings, description="Face recognition.")
    sync: SyncSettings = Field(default_factory=SyncSettings, description="MQTT sync with the central server.")
    ui: UISettings = Field(default_factory=UISettings, description="Touchscreen app.")


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` lists (key, message)."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  {key}: {msg}" for key, msg in problems)
        super().__init__(f"invalid configuration {self.path}:\n{lines}")


def _problems_from(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "value_error" and "error" in (err.get("ctx") or {}):
            msg = str(err["ctx"]["error"])  # our own message, without pydantic's "Value error, " in front
        problems.append((key, msg))
    return problems


def parse_config(data: dict, source: Path | str = "<dict>") -> TerminalConfig:
    try:
        return TerminalConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, _problems_from(exc)) from None


def load_config(path: Path | str | None = None) -> TerminalConfig:
    """Read and validate a TOML configuration file; raise ConfigError naming every bad key."""
    path = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, [("(file)", "file not found")]) from None
    except OSError as exc:
        raise ConfigError(path, [("(file)", exc.strerror or str(exc))]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(path, [("(file)", "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [("(syntax)", str(exc))]) from None
    return parse_config(data, path)
