#!/usr/bin/env python3
"""Writes template_expectations.json: the prompt text that the models' own Jinja chat
templates produce for a few fixed conversations, and which family each real
chat_template string belongs to. test_prompts compares natter's data-driven templates
with these texts byte for byte.

The Jinja sources below are the chat_template strings shipped in the models'
tokenizer_config.json (copied verbatim), rendered the way Hugging Face transformers
renders them (sandboxed environment, trim_blocks, lstrip_blocks, loopcontrols).
SmolLM2's template is read from the default model's GGUF metadata.

Usage: python3 tests/reference/make_template_expectations.py [path/to/SmolLM2.gguf]
Needs: pip install jinja2 gguf
"""
import json
import sys
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.sandbox

HERE = Path(__file__).resolve().parent
DEFAULT_GGUF = Path("/root/.cache/natter/models/SmolLM2-135M-Instruct.Q4_1.gguf")

# ---- official templates (verbatim) ----

# meta-llama/Llama-2-7b-chat-hf
LLAMA_2 = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}"

# meta-llama/Meta-Llama-3-8B-Instruct
LLAMA_3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

# teknium/OpenHermes-2.5-Mistral-7B (the plain ChatML template)
CHATML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

# HuggingFaceH4/zephyr-7b-beta
ZEPHYR = "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"

# mistralai/Mistral-7B-Instruct-v0.2, the updated ("v1") template with a system prompt
# folded into the first user turn.
MISTRAL = "{%- if messages[0]['role'] == 'system' %}\n    {%- set system_message = messages[0]['content'] %}\n    {%- set loop_messages = messages[1:] %}\n{%- else %}\n    {%- set loop_messages = messages %}\n{%- endif %}\n\n{{- bos_token }}\n{%- for message in loop_messages %}\n    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n    {%- endif %}\n    {%- if message['role'] == 'user' %}\n        {%- if loop.first and system_message is defined %}\n            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n        {%- else %}\n            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n        {%- endif %}\n    {%- elif message['role'] == 'assistant' %}\n        {{- ' ' + message['content'] + eos_token}}\n    {%- else %}\n        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n    {%- endif %}\n{%- endfor %}\n"

# mistralai/Mistral-7B-Instruct-v0.1 (no system role): detection only.
MISTRAL_V01 = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"

# google/gemma-3-4b-it (image parts included; they never run for text messages)
GEMMA = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n")

# google/gemma-7b-it (rejects a system message): detection only.
GEMMA_7B = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"

# microsoft/Phi-3.5-mini-instruct
PHI_3 = "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"

# ---- other real templates, for detection only ----

# A Vicuna template as people set it by hand (no official one exists); from llama.cpp's tests.
VICUNA = "{%- for message in messages %}{%- if message['role'] == 'system' -%}{{- '' + message['content'] + '\n\n' -}}{%- else -%}{%- if message['role'] == 'user' -%}{{-'USER: ' + message['content'] + '\n'-}}{%- else -%}{{-'ASSISTANT: ' + message['content'] + '</s>\n' -}}{%- endif -%}{%- endif -%}{%- endfor -%}{%- if add_generation_prompt -%}{{-'ASSISTANT:'-}}{%- endif -%}"

# deepseek-ai/deepseek-coder-33b-instruct: Alpaca-style "### Instruction:" sections.
DEEPSEEK_CODER = "{% if not add_generation_prompt is defined %}\n{% set add_generation_prompt = false %}\n{% endif %}\n{%- set ns = namespace(found=false) -%}\n{%- for message in messages -%}\n    {%- if message['role'] == 'system' -%}\n        {%- set ns.found = true -%}\n    {%- endif -%}\n{%- endfor -%}\n{{bos_token}}{%- if not ns.found -%}\n{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\\n'}}\n{%- endif %}\n{%- for message in messages %}\n    {%- if message['role'] == 'system' %}\n{{ message['content'] }}\n    {%- else %}\n        {%- if message['role'] == 'user' %}\n{{'### Instruction:\\n' + message['content'] + '\\n'}}\n        {%- else %}\n{{'### Response:\\n' + message['content'] + '\\n<|EOT|>\\n'}}\n        {%- endif %}\n    {%- endif %}\n{%- endfor %}\n{% if add_generation_prompt %}\n{{'### Response:'}}\n{% endif %}"

# mistralai/Mistral-Large-Instruct-2411 ("v7"): still [INST] without <<SYS>>.
MISTRAL_V7 = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + '[/INST]' }}{% elif message['role'] == 'system' %}{{ '[SYSTEM_PROMPT] ' + message['content'] + '[/SYSTEM_PROMPT]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + eos_token }}{% else %}{{ raise_exception('Only user, system and assistant roles are supported!') }}{% endif %}{% endfor %}"

# Families natter has no template for: detection must say "unknown".
DEEPSEEK_V2 = "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
COMMAND_R = "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% if system_message != false %}{{ '<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>' + system_message + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% for message in loop_messages %}{% set content = message['content'] %}{% if message['role'] == 'user' %}{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% elif message['role'] == 'assistant' %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>'  + content.strip() + '<|END_OF_TURN_TOKEN|>' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>' }}{% endif %}"
PHI_4 = "{% for message in messages %}{% if (message['role'] == 'system') %}{{'<|im_start|>system<|im_sep|>' + message['content'] + '<|im_end|>'}}{% elif (message['role'] == 'user') %}{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|><|im_start|>assistant<|im_sep|>'}}{% elif (message['role'] == 'assistant') %}{{message['content'] + '<|im_end|>'}}{% endif %}{% endfor %}"

# ---- conversations ----

CONVERSATIONS = {
    "two_turns": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there! How can I help?"},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "no_system": [
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there! How can I help?"},
        {"role": "user", "content": "What is 2+2?"},
    ],
    "ends_with_reply": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": "Hi there! How can I help?"},
    ],
    # Whitespace around later messages: templates that trim show it.
    "padded": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "  Hello.  \n"},
        {"role": "user", "content": "\n Tell me a joke. "},
    ],
}

# natter template name -> (source, jinja, bos_token, eos_token, conversations it must match)
ALL = list(CONVERSATIONS)
RENDERED = {
    "chatml": ("teknium/OpenHermes-2.5-Mistral-7B", CHATML, "<s>", "</s>", ALL),
    "llama-2": ("meta-llama/Llama-2-7b-chat-hf", LLAMA_2, "<s>", "</s>", ALL),
    "llama-3": ("meta-llama/Meta-Llama-3-8B-Instruct", LLAMA_3, "<|begin_of_text|>", "<|eot_id|>", ALL),
    "mistral": ("mistralai/Mistral-7B-Instruct-v0.2", MISTRAL, "<s>", "</s>", ALL),
    "zephyr": ("HuggingFaceH4/zephyr-7b-beta", ZEPHYR, "<s>", "</s>", ALL),
    "gemma": ("google/gemma-3-4b-it", GEMMA, "<bos>", "<eos>", ALL),
    "phi-3": ("microsoft/Phi-3.5-mini-instruct", PHI_3, "<s>", "<|endoftext|>", ALL),
}

# Phi-3 appends eos_token when no generation prompt is asked for; natter's render
# does not (the session never renders a prompt without asking for a reply).
GENERATION_PROMPT_ONLY = {"phi-3"}


def render(source: str, messages, add_generation_prompt: bool, bos: str, eos: str) -> str:
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source).render(
        messages=messages, add_generation_prompt=add_generation_prompt,
        bos_token=bos, eos_token=eos)


def smollm_template(path: Path) -> str:
    import gguf
    reader = gguf.GGUFReader(str(path))
    field = reader.fields["tokenizer.chat_template"]
    return bytes(field.parts[field.data[0]]).decode("utf-8")


def main() -> None:
    gguf_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_GGUF
    smollm = smollm_template(gguf_path)

    cases = []
    for name, (source, jinja, bos, eos, conversations) in RENDERED.items():
        for conv in conversations:
            for gen in (True, False):
                if not gen and name in GENERATION_PROMPT_ONLY:
                    continue
                cases.append({"template": name, "source": source, "conversation": conv,
                              "add_generation_prompt": gen,
                              "expected": render(jinja, CONVERSATIONS[conv], gen, bos, eos)})
    # SmolLM2's own template is ChatML plus a default system prompt of its own, so it
    # matches natter's chatml whenever the conversation brings a system message.
    for conv in ("two_turns", "ends_with_reply", "padded"):
        cases.append({"template": "chatml", "source": "SmolLM2-135M-Instruct (GGUF metadata)",
                      "conversation": conv, "add_generation_prompt": True,
                      "expected": render(smollm, CONVERSATIONS[conv], True, "<|im_start|>", "<|im_end|>")})

    detection = [
        {"source": "SmolLM2-135M-Instruct (GGUF metadata)", "chat_template": smollm, "expected": "chatml"},
        {"source": "teknium/OpenHermes-2.5-Mistral-7B", "chat_template": CHATML, "expected": "chatml"},
        {"source": "meta-llama/Llama-2-7b-chat-hf", "chat_template": LLAMA_2, "expected": "llama-2"},
        {"source": "meta-llama/Meta-Llama-3-8B-Instruct", "chat_template": LLAMA_3, "expected": "llama-3"},
        {"source": "mistralai/Mistral-7B-Instruct-v0.2", "chat_template": MISTRAL, "expected": "mistral"},
        {"source": "mistralai/Mistral-7B-Instruct-v0.1", "chat_template": MISTRAL_V01, "expected": "mistral"},
        {"source": "mistralai/Mistral-Large-Instruct-2411", "chat_template": MISTRAL_V7, "expected": "mistral"},
        {"source": "HuggingFaceH4/zephyr-7b-beta", "chat_template": ZEPHYR, "expected": "zephyr"},
        {"source": "google/gemma-3-4b-it", "chat_template": GEMMA, "expected": "gemma"},
        {"source": "google/gemma-7b-it", "chat_template": GEMMA_7B, "expected": "gemma"},
        {"source": "microsoft/Phi-3.5-mini-instruct", "chat_template": PHI_3, "expected": "phi-3"},
        {"source": "vicuna (hand-set, llama.cpp tests)", "chat_template": VICUNA, "expected": "vicuna"},
        {"source": "deepseek-ai/deepseek-coder-33b-instruct", "chat_template": DEEPSEEK_CODER, "expected": "alpaca"},
        {"source": "deepseek-ai/DeepSeek-V2", "chat_template": DEEPSEEK_V2, "expected": None},
        {"source": "CohereForAI/c4ai-command-r-plus", "chat_template": COMMAND_R, "expected": None},
        {"source": "microsoft/phi-4", "chat_template": PHI_4, "expected": None},
        {"source": "empty", "chat_template": "", "expected": None},
    ]

    out = {
        "generated_by": "tests/reference/make_template_expectations.py",
        "conversations": CONVERSATIONS,
        "cases": cases,
        "detection": detection,
    }
    path = HERE / "template_expectations.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(cases)} rendering cases, {len(detection)} detection cases")


if __name__ == "__main__":
    main()
