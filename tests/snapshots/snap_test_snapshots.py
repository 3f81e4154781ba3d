# -*- coding: utf-8 -*-
# snapshottest: v1 - https://goo.gl/zC4yUc
from __future__ import unicode_literals

from snapshottest import Snapshot


snapshots = Snapshot()

snapshots['test_golden_prompts_per_stage answer'] = [
    {
        'content': '''Your input fields are:
1. `question` (str): 
2. `language` (str):
Your output fields are:
1. `answer` (Answer):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## question ## ]]
{question}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "answer": "{answer}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"string\\", \\"minLength\\": 20, \\"title\\": \\"Answer\\"}"
}
In adhering to this structure, your objective is: 
        You are an expert tutor. Answer the homework question correctly and
        completely. Reason step by step where the question needs it, then state
        the final answer clearly.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## question ## ]]
Add the vectors (1, 2) and (3, -1).

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `answer` (must be formatted as a valid Python Answer).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage question'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): 
2. `subject` (str): 
3. `level` (str): 
4. `syllabus` (str): the whole syllabus
5. `sessions` (list[str]): the sessions the question is about
6. `key_concepts` (list[str]): the concepts to exercise
7. `difficulty` (str): basic or challenging
8. `language` (str):
Your output fields are:
1. `question` (Question):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## subject ## ]]
{subject}

[[ ## level ## ]]
{level}

[[ ## syllabus ## ]]
{syllabus}

[[ ## sessions ## ]]
{sessions}

[[ ## key_concepts ## ]]
{key_concepts}

[[ ## difficulty ## ]]
{difficulty}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "question": "{question}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"string\\", \\"minLength\\": 20, \\"title\\": \\"Question\\"}"
}
In adhering to this structure, your objective is: 
        You are a teacher writing one homework question. The student has followed
        the syllabus below up to and including the given class sessions. Write a
        question that exercises the given key concepts. A basic question tests
        one session; a challenging question must combine the key concepts of both
        sessions. The question must be self-contained: include any data it needs.
        Write only the question, not its answer.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Chemistry

[[ ## subject ## ]]
Organic Chemistry

[[ ## level ## ]]
intermediate

[[ ## syllabus ## ]]
Session 1: Vectors - Quantities with direction.
  Key concepts: vector addition; unit vectors; dot product
Session 2: Kinematics - Motion without its causes.
  Key concepts: velocity; acceleration

[[ ## sessions ## ]]
["Kinematics"]

[[ ## key_concepts ## ]]
["acceleration"]

[[ ## difficulty ## ]]
basic

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `question` (must be formatted as a valid Python Question).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage subjects'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): the discipline to cover
2. `levels` (list[str]): the levels a subject may have
3. `num_subjects` (int): how many subjects to list
4. `language` (str): the language to write in
Your output fields are:
1. `subjects` (Subjects):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## levels ## ]]
{levels}

[[ ## num_subjects ## ]]
{num_subjects}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "subjects": "{subjects}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"array\\", \\"$defs\\": {\\"SubjectsItem\\": {\\"type\\": \\"object\\", \\"properties\\": {\\"level\\": {\\"type\\": \\"string\\", \\"maxLength\\": 40, \\"minLength\\": 3, \\"title\\": \\"Level\\"}, \\"name\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3, \\"title\\": \\"Name\\"}, \\"subtopics\\": {\\"type\\": \\"array\\", \\"items\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3}, \\"maxItems\\": 6, \\"minItems\\": 1, \\"title\\": \\"Subtopics\\"}}, \\"required\\": [\\"name\\", \\"level\\", \\"subtopics\\"], \\"title\\": \\"SubjectsItem\\"}}, \\"items\\": {\\"$ref\\": \\"#/$defs/SubjectsItem\\"}, \\"maxItems\\": 10, \\"minItems\\": 1, \\"title\\": \\"Subjects\\"}"
}
In adhering to this structure, your objective is: 
        You are an education expert. List the subjects a student should learn to
        master the discipline below, as they are taught in schools, colleges and
        universities. For each subject give its level and its main subtopics.
        Name each subject plainly, as a course catalogue would.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Physics

[[ ## levels ## ]]
["introductory", "intermediate", "advanced"]

[[ ## num_subjects ## ]]
3

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `subjects` (must be formatted as a valid Python Subjects).''',
        'role': 'user'
    }
]

snapshots['test_golden_prompts_per_stage syllabus'] = [
    {
        'content': '''Your input fields are:
1. `discipline` (str): 
2. `subject` (str): 
3. `level` (str): 
4. `subtopics` (list[str]): 
5. `num_sessions` (int): how many class sessions
6. `num_key_concepts` (int): key concepts per session
7. `language` (str):
Your output fields are:
1. `sessions` (Sessions):
All interactions will be structured in the following way, with the appropriate values filled in.

Inputs will have the following structure:

[[ ## discipline ## ]]
{discipline}

[[ ## subject ## ]]
{subject}

[[ ## level ## ]]
{level}

[[ ## subtopics ## ]]
{subtopics}

[[ ## num_sessions ## ]]
{num_sessions}

[[ ## num_key_concepts ## ]]
{num_key_concepts}

[[ ## language ## ]]
{language}

Outputs will be a JSON object with the following fields.

{
  "sessions": "{sessions}        # note: the value you produce must adhere to the JSON schema: {\\"type\\": \\"array\\", \\"$defs\\": {\\"SessionsItem\\": {\\"type\\": \\"object\\", \\"properties\\": {\\"description\\": {\\"type\\": \\"string\\", \\"maxLength\\": 400, \\"minLength\\": 10, \\"title\\": \\"Description\\"}, \\"key_concepts\\": {\\"type\\": \\"array\\", \\"items\\": {\\"type\\": \\"string\\", \\"maxLength\\": 80, \\"minLength\\": 3}, \\"maxItems\\": 8, \\"minItems\\": 1, \\"title\\": \\"Key Concepts\\"}, \\"name\\": {\\"type\\": \\"string\\", \\"maxLength\\": 100, \\"minLength\\": 3, \\"title\\": \\"Name\\"}}, \\"required\\": [\\"name\\", \\"description\\", \\"key_concepts\\"], \\"title\\": \\"SessionsItem\\"}}, \\"items\\": {\\"$ref\\": \\"#/$defs/SessionsItem\\"}, \\"maxItems\\": 30, \\"minItems\\": 1, \\"title\\": \\"Sessions\\"}"
}
In adhering to this structure, your objective is: 
        You are a teacher designing a course. Write the syllabus of the subject
        below for students at the given level: a sequence of class sessions, in
        teaching order, each with a short description and the key concepts it
        teaches. Together the sessions must cover the subtopics.''',
        'role': 'system'
    },
    {
        'content': '''[[ ## discipline ## ]]
Chemistry

[[ ## subject ## ]]
Organic Chemistry

[[ ## level ## ]]
intermediate

[[ ## subtopics ## ]]
["alkanes", "alkenes"]

[[ ## num_sessions ## ]]
6

[[ ## num_key_concepts ## ]]
4

[[ ## language ## ]]
English

Respond with a JSON object in the following order of fields: `sessions` (must be formatted as a valid Python Sessions).''',
        'role': 'user'
    }
]

snapshots['test_plan_of_the_science_taxonomy json'] = {
    'cost': None,
    'estimated': True,
    'lm_calls': 33,
    'stages': {
        'answer': {
            'cached': 0,
            'cost': None,
            'estimated': 12,
            'reasons': {
                'new': 12
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'question': {
            'cached': 0,
            'cost': None,
            'estimated': 12,
            'reasons': {
                'new': 12
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'subjects': {
            'cached': 0,
            'cost': None,
            'estimated': 0,
            'reasons': {
                'new': 3
            },
            'run': 3,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        },
        'syllabus': {
            'cached': 0,
            'cost': None,
            'estimated': 6,
            'reasons': {
                'new': 6
            },
            'run': 0,
            'skipped': 0,
            'tokens': {
                'in': None,
                'out': None
            }
        }
    },
    'taxonomy': 'science',
    'tokens': {
        'in': None,
        'out': None
    }
}

snapshots['test_plan_of_the_science_taxonomy text'] = '''stage        cached      run  estimated  skipped  reasons
subjects          -        3          -        -  new 3
syllabus          -        -         ~6        -  new 6
question          -        -        ~12        -  new 12
answer            -        -        ~12        -  new 12

model calls: ~33 (3 known now, ~30 estimated from the spec's counts; retries not counted)
tokens: unknown (no finished nodes of these stages in the store yet)

will run:
  subjects  new               92ee3e22d6f5  Natural Sciences/Physics #0
  subjects  new               b00a9c86a824  Natural Sciences/Chemistry #0
  subjects  new               d10ff760bedd  Natural Sciences/Biology #0
'''

snapshots['test_stub_build_and_diff_of_two_builds build README.md'] = '''---
pretty_name: tiny
license: unknown
task_categories:
- question-answering
- text-generation
size_categories:
- n<1K
tags:
- synthetic
- instruction-tuning
- glan
- glanc
language:
- en
configs:
- config_name: default
  data_files:
  - split: train
    path: dataset.jsonl
---

# tiny

**Made with glanc's stub model: placeholder text, not training data.**

9 question-answer pairs generated with glanc 0.1.0 by the GLAN method (Li et al. 2024): a taxonomy of disciplines is expanded into subjects, syllabi, homework questions and answers. Spec: `tiny.yaml`, template `glan-default`.

Each line of `dataset.jsonl` holds `messages` (the question as the user turn, the answer as the assistant turn), `taxonomy_path`, `discipline`, `subject`, `level`, `sessions`, `key_concepts`, `difficulty`, `models`, `stub` and the node `keys`.

## Counts

### By field

| field | rows |
| --- | ---: |
| Science | 9 |

### By discipline

| discipline | rows |
| --- | ---: |
| Science/Chemistry | 3 |
| Science/Physics | 6 |

### By level

| level | rows |
| --- | ---: |
| intermediate | 3 |
| stub level 361274d8 | 3 |
| stub level e3efb8d5 | 3 |

### By difficulty

| difficulty | rows |
| --- | ---: |
| basic | 3 |
| challenging | 6 |

## Models and decoding

| stage | model | decoding |
| --- | --- | --- |
| subjects | stub | max_tokens=1024, temperature=1.0, top_p=0.95 |
| syllabus | stub | max_tokens=2048, temperature=1.0, top_p=0.95 |
| question | stub | max_tokens=512, temperature=1.0, top_p=0.95 |
| answer | stub | max_tokens=1024, temperature=0.7, top_p=0.95 |

## Tokens

Model calls behind this dataset: 23 nodes (subjects 2, syllabus 3, question 9, answer 9); tokens 6,141 in / 347 out.

## Rebuild

```console
glanc build tiny.yaml        # reuses lock.jsonl: no model call
glanc check tiny.yaml        # CI: the committed files are what spec and lock produce
```
'''

snapshots['test_stub_build_and_diff_of_two_builds build dataset.jsonl'] = '''{"difficulty": "challenging", "discipline": "Physics", "id": "0546a069a9fa5de9", "key_concepts": ["stub key_concepts 7fda0103", "stub key_concepts 4c255451", "stub key_concepts c3e54e7b", "stub key_concepts ee406df7", "stub key_concepts f2d6f0c0"], "keys": {"answer": "fa46ea514b80104243410d144678178e2cb1575ff03845d9de34c4369c956040", "question": "df9759f7b30cd1dd688ab466b05d10fe176e38ee76a618a160806c2d5d38bcf1", "syllabus": "1306d59bd88c1497722b54c3b6648b0436bd392a1d904642360c19427b6a999e"}, "level": "stub level e3efb8d5", "messages": [{"content": "stub question 5bb8633d", "role": "user"}, {"content": "stub answer 15066e24", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 2b982f6d", "stub name 96c946d2"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "247bed098059d4e6", "key_concepts": ["stub key_concepts 3ce71ce7", "stub key_concepts 80159742", "stub key_concepts d4f6abdd", "stub key_concepts f01ea318"], "keys": {"answer": "0906303bf22d8764edfa33fd9059fd3c4492555a18fdb1d345e2a2ec9b86dee6", "question": "518213e5a898044e837d7010a8353ccf9cc5a706cf7151596afdd99f5c73233e", "syllabus": "d55f80ac78f888e8d55a7ad8066f1f2698f1ed95296aaedc9986bc66356ca6c6"}, "level": "stub level 361274d8", "messages": [{"content": "stub question a1d153b5", "role": "user"}, {"content": "stub answer be2a1a27", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 858c6ec0", "stub name a547bce8"], "stub": true, "subject": "stub name c77aeb30", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "51b68721f3a304d7", "key_concepts": ["stub key_concepts 7fda0103", "stub key_concepts f2d6f0c0"], "keys": {"answer": "7df2d023ead8a79b0ef42c9d376318ca9edd146481a1479f91cbdcf52405bd56", "question": "caffe0b011a2bf68def14d5a404636a8f31da99ac69d66b38a546edc9a7b9d3c", "syllabus": "1306d59bd88c1497722b54c3b6648b0436bd392a1d904642360c19427b6a999e"}, "level": "stub level e3efb8d5", "messages": [{"content": "stub question b44c63a9", "role": "user"}, {"content": "stub answer adf901e1", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 2b982f6d", "stub name 96c946d2"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "basic", "discipline": "Physics", "id": "558c2f1426171ee7", "key_concepts": ["stub key_concepts c3e54e7b", "stub key_concepts 7fda0103"], "keys": {"answer": "90c938603991b9037445ff7272c73b63f27a557693fb9dfff1e858615674d4aa", "question": "dd96afc1d2a1180336a3fa3e5ccf27affbdf7f393a7c2cdb189ea0de2c829667", "syllabus": "1306d59bd88c1497722b54c3b6648b0436bd392a1d904642360c19427b6a999e"}, "level": "stub level e3efb8d5", "messages": [{"content": "stub question 71843a58", "role": "user"}, {"content": "stub answer e16a2bb3", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 2b982f6d"], "stub": true, "subject": "stub name fb9992f0", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "basic", "discipline": "Chemistry", "id": "7d8e3a5a3b9fc07e", "key_concepts": ["stub key_concepts e20e23a5", "stub key_concepts 41c6ef09"], "keys": {"answer": "343d5f20ac13ff332ad50f138f89a527f61682b9466debff2906fb79fc85a2cd", "question": "230b457c16c522c84921035769cfcb025e46e6b6cfabfc957f59a041d311d397", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question 3af22fc3", "role": "user"}, {"content": "stub answer 68012218", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
{"difficulty": "challenging", "discipline": "Chemistry", "id": "ac4064e545a42172", "key_concepts": ["stub key_concepts 41c6ef09", "stub key_concepts 986118ab"], "keys": {"answer": "1c2281a7554fafb0baf8b42769bd26fd8478f1b2c3c83144159ce2d5b649ba02", "question": "d96ab22f30b8c0d67bdc2327cbcf404854692c87a5318668c3e540214ff3022a", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question 624327df", "role": "user"}, {"content": "stub answer afdd60f7", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f", "stub name ee5616bb"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
{"difficulty": "challenging", "discipline": "Physics", "id": "ce7c11e86aa1907c", "key_concepts": ["stub key_concepts 3ce71ce7", "stub key_concepts 80159742", "stub key_concepts 0acff841", "stub key_concepts f01ea318", "stub key_concepts d4f6abdd"], "keys": {"answer": "f3b53dce99b66f311932f5de9e92150ec221dd7b97b3abacf1afdfce3248457b", "question": "1d6b34161abec65df773ca44f68a3feea0bfa5398a05064924d3d9409316ca22", "syllabus": "d55f80ac78f888e8d55a7ad8066f1f2698f1ed95296aaedc9986bc66356ca6c6"}, "level": "stub level 361274d8", "messages": [{"content": "stub question b74f7e31", "role": "user"}, {"content": "stub answer ddd1d424", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name 858c6ec0", "stub name a547bce8"], "stub": true, "subject": "stub name c77aeb30", "taxonomy_path": ["Science", "Physics"]}
{"difficulty": "challenging", "discipline": "Chemistry", "id": "e1ba764758f2069d", "key_concepts": ["stub key_concepts a736a2f2", "stub key_concepts 8a717dc3", "stub key_concepts 41c6ef09", "stub key_concepts 6ddb7484"], "keys": {"answer": "02142eb4ed1deb3a9966c18f4727feea156902b58e2aa62c9e03d6b2270e97d0", "question": "b8038fbb0e5b76dc7a0b59c6a4ffd55813583f3a9f2819f2f5e469ca1cd1e031", "syllabus": "de32ba305a1668d673a763568fb3736a5a8486d0b98faa38b03a8af0c2516311"}, "level": "intermediate", "messages": [{"content": "stub question c84f7fb0", "role": "user"}, {"content": "stub answer 5c71964d", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name fdb5be8f", "stub name ee5616bb"], "stub": true, "subject": "Organic Chemistry", "taxonomy_path": ["Science", "Chemistry"]}
{"difficulty": "basic", "discipline": "Physics", "id": "f05e4750322d21e7", "key_concepts": ["stub key_concepts d4f6abdd"], "keys": {"answer": "c6f8ab72784fea7d46340922376573e051088e3b79ce6d5431c0809693139f18", "question": "3bfbe50b32a6ee291823b019ef770b69c52a74de1fc35b08b7068d9bbba855bf", "syllabus": "d55f80ac78f888e8d55a7ad8066f1f2698f1ed95296aaedc9986bc66356ca6c6"}, "level": "stub level 361274d8", "messages": [{"content": "stub question b0d39c1b", "role": "user"}, {"content": "stub answer 653103dd", "role": "assistant"}], "models": {"answer": "stub", "question": "stub"}, "sessions": ["stub name a547bce8"], "stub": true, "subject": "stub name c77aeb30", "taxonomy_path": ["Science", "Physics"]}
'''

snapshots['test_stub_build_and_diff_of_two_builds build manifest.json'] = '''{
  "complete": true,
  "counts": {
    "disciplines": 2,
    "failed": {
      "answer": 0,
      "question": 0,
      "subjects": 0,
      "syllabus": 0
    },
    "nodes": {
      "answer": 9,
      "question": 9,
      "subjects": 2,
      "syllabus": 3
    },
    "skipped": {
      "answer": 0,
      "question": 0,
      "subjects": 0,
      "syllabus": 0
    }
  },
  "glanc_version": "0.1.0",
  "models": {
    "answer": [
      "stub"
    ],
    "question": [
      "stub"
    ],
    "subjects": [
      "stub"
    ],
    "syllabus": [
      "stub"
    ]
  },
  "rows": 9,
  "spec_digest": "44c0d6670f7dd509b2ff19028f3fce966aacc84d450ff73c5ab679cef8c17bec",
  "taxonomy": "tiny",
  "template": "glan-default",
  "tokens": {
    "in": 6141,
    "out": 347
  },
  "usage": {
    "stub": {
      "nodes": 23,
      "stages": {
        "answer": {
          "nodes": 9,
          "tokens_in": 1359,
          "tokens_out": 36
        },
        "question": {
          "nodes": 9,
          "tokens_in": 3312,
          "tokens_out": 36
        },
        "subjects": {
          "nodes": 2,
          "tokens_in": 538,
          "tokens_out": 110
        },
        "syllabus": {
          "nodes": 3,
          "tokens_in": 932,
          "tokens_out": 165
        }
      },
      "tokens_in": 6141,
      "tokens_out": 347
    }
  }
}
'''

snapshots['test_stub_build_and_diff_of_two_builds diff markdown'] = '''### glanc diff: `old/tiny` → `new/tiny`

**9 → 15 rows: +6 added, −0 removed, ~9 changed**

| taxonomy path | added | removed | changed |
| --- | ---: | ---: | ---: |
| Science/Biology | 6 | 0 | 0 |
| Science/Chemistry | 0 | 0 | 3 |
| Science/Physics | 0 | 0 | 6 |

<details><summary>Science/Biology: samples</summary>

- **added** `05b774b7d3044f21` *stub name 285c248d*
  - Q: stub question 60073690
  - A: stub answer 5bf2b662

</details>

<details><summary>Science/Chemistry: samples</summary>

- **changed** (answer) `7d8e3a5a3b9fc07e` *Organic Chemistry*
  - Q: stub question 3af22fc3
  - A: stub answer 5e8e4123
  - was A: stub answer 68012218

</details>

<details><summary>Science/Physics: samples</summary>

- **changed** (answer) `0546a069a9fa5de9` *stub name fb9992f0*
  - Q: stub question 5bb8633d
  - A: stub answer 8fc281df
  - was A: stub answer 15066e24

</details>
'''
