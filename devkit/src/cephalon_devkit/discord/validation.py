"""Discord's body limits for messages (content, embeds, components, nonce, files).

``check_message`` raises :class:`ApiError` with the same codes and nested error tree
Discord answers (50035 "Invalid Form Body", 50006 empty message, 40005 too large), so
discord.py's ``HTTPException.text`` reads like the real one
("In embeds.0.title: Must be 256 or fewer in length.").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cephalon_devkit.discord.errors import (
    EMPTY_MESSAGE,
    ENTITY_TOO_LARGE,
    ApiError,
    FormErrors,
    field_error,
    invalid_form,
    required,
    too_long,
)
from cephalon_devkit.discord.limits import DiscordLimits

IS_COMPONENTS_V2 = 1 << 15
"""Message flag: top-level components are v2 layout components, not action rows
(checked by Discord against its component schema; the emulator accepts them)."""


def _text_len(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


_URL_SCHEMES = ("http://", "https://", "attachment://")


def _url_error(value: Any) -> FormErrors | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(_URL_SCHEMES):
        scheme = value.split(":", 1)[0] if isinstance(value, str) and ":" in value else ""
        return field_error(
            "URL_TYPE_INVALID_SCHEME",
            f"Scheme \"{scheme}\" is not supported. Scheme must be one of ('http', 'https').",
        )
    return None


def _embed_url_errors(embed: Mapping[str, Any]) -> FormErrors:
    errors: FormErrors = {}
    if (e := _url_error(embed.get("url"))) is not None:
        errors["url"] = e
    for part, keys in (
        ("image", ("url",)),
        ("thumbnail", ("url",)),
        ("author", ("url", "icon_url")),
        ("footer", ("icon_url",)),
    ):
        sub = embed.get(part)
        if not isinstance(sub, Mapping):
            continue
        for key in keys:
            if (e := _url_error(sub.get(key))) is not None:
                errors.setdefault(part, {})[key] = e
    color = embed.get("color")
    if color is not None and (
        isinstance(color, bool) or not isinstance(color, int) or not 0 <= color <= 0xFFFFFF
    ):
        errors["color"] = field_error(
            "NUMBER_TYPE_MAX", "int value should be less than or equal to 16777215."
        )
    return errors


def embed_errors(embed: Mapping[str, Any], limits: DiscordLimits) -> tuple[FormErrors, int]:
    """Errors of one embed and the characters it counts toward the 6000 total."""
    errors: FormErrors = _embed_url_errors(embed)
    total = 0
    title = _text_len(embed.get("title"))
    description = _text_len(embed.get("description"))
    total += title + description
    if title > limits.embed_title_max:
        errors["title"] = too_long(limits.embed_title_max)
    if description > limits.embed_description_max:
        errors["description"] = too_long(limits.embed_description_max)
    fields = embed.get("fields") or []
    if not isinstance(fields, list):
        errors["fields"] = field_error("LIST_TYPE_CONVERT", "Must be an array.")
        fields = []
    if len(fields) > limits.embed_fields_max:
        errors["fields"] = too_long(limits.embed_fields_max)
    field_errors: FormErrors = {}
    for i, f in enumerate(fields):
        one: FormErrors = {}
        name = f.get("name") if isinstance(f, Mapping) else None
        value = f.get("value") if isinstance(f, Mapping) else None
        if not name:
            one["name"] = required()
        elif _text_len(name) > limits.embed_field_name_max:
            one["name"] = too_long(limits.embed_field_name_max)
        if not value:
            one["value"] = required()
        elif _text_len(value) > limits.embed_field_value_max:
            one["value"] = too_long(limits.embed_field_value_max)
        total += _text_len(name) + _text_len(value)
        if one:
            field_errors[str(i)] = one
    if field_errors and "fields" not in errors:
        errors["fields"] = field_errors
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        n = _text_len(footer.get("text"))
        total += n
        if n > limits.embed_footer_max:
            errors["footer"] = {"text": too_long(limits.embed_footer_max)}
    author = embed.get("author")
    if isinstance(author, Mapping):
        n = _text_len(author.get("name"))
        total += n
        if n > limits.embed_author_max:
            errors["author"] = {"name": too_long(limits.embed_author_max)}
    return errors, total


def components_errors(components: Sequence[Any], limits: DiscordLimits) -> FormErrors:
    if len(components) > limits.action_rows_max:
        return too_long(limits.action_rows_max)
    errors: FormErrors = {}
    seen: set[str] = set()
    for r, row in enumerate(components):
        if not isinstance(row, Mapping) or row.get("type") != 1:
            errors[str(r)] = field_error(
                "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            continue
        children = row.get("components") or []
        if len(children) > limits.row_components_max:
            errors[str(r)] = {"components": too_long(limits.row_components_max)}
            continue
        row_errors: FormErrors = {}
        for c, comp in enumerate(children):
            one: FormErrors = {}
            custom_id = comp.get("custom_id") if isinstance(comp, Mapping) else None
            if isinstance(custom_id, str):
                if len(custom_id) > limits.custom_id_max:
                    one["custom_id"] = too_long(limits.custom_id_max)
                elif custom_id in seen:
                    one["custom_id"] = field_error(
                        "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                    )
                seen.add(custom_id)
            if isinstance(comp, Mapping) and comp.get("type") == 2:
                if comp.get("style") == 5:
                    if not comp.get("url"):
                        one["url"] = required()
                elif comp.get("style") != 6 and not custom_id:
                    one["custom_id"] = required()
            label = comp.get("label") if isinstance(comp, Mapping) else None
            if _text_len(label) > limits.button_label_max:
                one["label"] = too_long(limits.button_label_max)
            if one:
                row_errors[str(c)] = one
        if row_errors:
            errors[str(r)] = {"components": row_errors}
    return errors


def check_message(
    body: Mapping[str, Any],
    *,
    file_sizes: Sequence[int],
    limits: DiscordLimits,
    creating: bool,
    existing_attachments: int = 0,
) -> None:
    """Raise :class:`ApiError` if ``body`` (a message create or edit) breaks a limit."""
    for size in file_sizes:
        if size > limits.upload_max_bytes:
            raise ApiError(413, ENTITY_TOO_LARGE, "Request entity too large")
    errors: FormErrors = {}
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        content = str(content)
    if content is not None and len(content) > limits.content_max:
        errors["content"] = too_long(limits.content_max)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            errors["embeds"] = field_error("LIST_TYPE_CONVERT", "Must be an array.")
        elif len(embeds) > limits.embeds_max:
            errors["embeds"] = too_long(limits.embeds_max)
        else:
            total = 0
            per: FormErrors = {}
            for i, embed in enumerate(embeds):
                if not isinstance(embed, Mapping):
                    per[str(i)] = field_error(
                        "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
                    )
                    continue
                e, n = embed_errors(embed, limits)
                total += n
                if e:
                    per[str(i)] = e
            if per:
                errors["embeds"] = per
            elif total > limits.embed_total_max:
                errors["embeds"] = field_error(
                    "MAX_EMBED_SIZE_EXCEEDED",
                    f"Embed size exceeds maximum size of {limits.embed_total_max}",
                )
    components = body.get("components")
    flags = body.get("flags")
    v2 = isinstance(flags, int) and bool(flags & IS_COMPONENTS_V2)
    if isinstance(components, list) and not v2:
        c_errors = components_errors(components, limits)
        if c_errors:
            errors["components"] = c_errors
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, bool) or not isinstance(nonce, int | str):
            errors["nonce"] = field_error(
                "NONCE_TYPE_INVALID", "Nonce must be an integer or string"
            )
        elif isinstance(nonce, str) and len(nonce) > limits.nonce_max_length:
            errors["nonce"] = field_error(
                "BASE_TYPE_MAX_LENGTH", f"Must be {limits.nonce_max_length} or fewer in length."
            )
    if len(file_sizes) + existing_attachments > limits.attachments_max:
        errors["files"] = too_long(limits.attachments_max)
    if errors:
        raise invalid_form(errors)
    if creating and not (
        content or embeds or file_sizes or components or body.get("sticker_ids") or body.get("poll")
    ):
        raise ApiError(400, EMPTY_MESSAGE, "Cannot send an empty message")
